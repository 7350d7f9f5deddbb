# VAE report suite. `make help` lists the targets; `make report` renders the study,
# `make report PROFILE=quick` a smoke version of it, `make test` runs the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PROFILE ?= full
RUNS    ?= original retrained
ARCHS   ?= vanilla deep-128 deep-256 deep-512 deep-256-128 deep-512-256 deep-512-256-128
JOBS    ?= 2
STEPS   := 02-elbo 03-collapse 04-samples 05-chain
# A folder of MNIST idx files to use offline; by default ../shared/mnist when it exists, else
# empty, and torchvision downloads MNIST into data/ as usual.
MNIST_SOURCE ?= $(wildcard $(abspath $(CURDIR)/../shared/mnist))
export MNIST_SOURCE

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    := reports/$(PROFILE)
KERNEL := vae-report
# the code every notebook runs: the model and ELBO, and the package of everything else
CODE   := vae_core.py $(sort $(wildcard vae_report/*.py))

## ---- set-up ------------------------------------------------------------------------------
$(STAMP): requirements.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@# make `import vae_core` work from any folder (notebooks/, JupyterLab) without installing it
	$(PY) -c "import site, pathlib; pathlib.Path(site.getsitepackages()[0], 'vae_report.pth').write_text('$(CURDIR)\n')"
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "VAE report (.venv)" >/dev/null
	@touch $@

.PHONY: setup
setup: $(STAMP) ## create .venv with the pinned packages and the notebook kernel

.PHONY: latex
latex: ## install xelatex + pandoc for the PDF (Debian packages) when missing
	@bash scripts/setup-latex.sh

## ---- the study ---------------------------------------------------------------------------
# One executed notebook per step, run, seed and architecture:
# reports/<profile>/<run>/seed-<seed>/<arch>/<step>.ipynb. A run's seeds are the `seeds: [...]`
# line of params/runs/<run>.yaml. Training writes the checkpoint; the other steps only read it,
# so changing a plot never retrains.
params = params/base.yaml params/runs/$(1).yaml params/profiles/$(PROFILE).yaml
seeds  = $(or $(shell sed -n 's/^seeds:[^[]*\[\([^]]*\)\].*/\1/p' params/runs/$(1).yaml | tr ',' ' '),0)
cell   = $(OUT)/$(1)/seed-$(2)/$(3)/$(4).ipynb

# A training notebook whose checkpoint is missing (a fresh clone, `make clean-checkpoints`) must
# run even when its executed notebook is newer than its sources: it then depends on FORCE.
# (The notebooks' `checkpoints_dir` parameter defaults to `checkpoints`.)
CKPT    := checkpoints/$(PROFILE)
missing  = $(if $(wildcard $(1)),,FORCE)
.PHONY: FORCE
FORCE:

CLASSIFIER := $(OUT)/classifier/00-classifier.ipynb
$(CLASSIFIER): notebooks/00-classifier.ipynb $(CODE) params/base.yaml params/profiles/$(PROFILE).yaml $(call missing,$(CKPT)/classifier.pt) | $(STAMP)
	@bash scripts/run_notebook.sh 00-classifier $(PROFILE)

# 04-samples and 05-chain ask the digit classifier how digit-like the samples and chain frames are.
judged = $(if $(filter 04-samples 05-chain,$(1)),$(CLASSIFIER))

define CELL_RULES
$(call cell,$(1),$(2),$(3),01-train): notebooks/01-train.ipynb $(CODE) $(call params,$(1)) $(call missing,$(CKPT)/$(1)/seed-$(2)/$(3).pt) | $(STAMP)
	@bash scripts/run_notebook.sh 01-train $(PROFILE) $(1) $(2) $(3)
$(foreach s,$(STEPS),
$(call cell,$(1),$(2),$(3),$(s)): notebooks/$(s).ipynb $(call cell,$(1),$(2),$(3),01-train) $(call judged,$(s)) | $(STAMP)
	@bash scripts/run_notebook.sh $(s) $(PROFILE) $(1) $(2) $(3)
)
endef
$(foreach r,$(RUNS),$(foreach n,$(call seeds,$(r)),$(foreach a,$(ARCHS),$(eval $(call CELL_RULES,$(r),$(n),$(a))))))

# Training first (the classifier right after), the costliest models first (batch 16 before 64, deep before shallow), so that
# with -j2 no long job is left running alone at the end; then the evaluation steps.
reverse = $(if $(1),$(call reverse,$(wordlist 2,$(words $(1)),$(1))) $(firstword $(1)))
TRAIN := $(foreach r,$(RUNS),$(foreach n,$(call seeds,$(r)),$(foreach a,$(call reverse,$(ARCHS)),$(call cell,$(r),$(n),$(a),01-train))))
CELLS := $(TRAIN) $(CLASSIFIER) $(foreach r,$(RUNS),$(foreach n,$(call seeds,$(r)),$(foreach a,$(ARCHS),$(foreach s,$(STEPS),$(call cell,$(r),$(n),$(a),$(s))))))

.PHONY: cells
cells: $(CELLS) ## run every (run, architecture) notebook that is out of date

$(OUT)/report.ipynb: notebooks/report.ipynb $(CODE) $(CELLS) | $(STAMP)
	@bash scripts/run_notebook.sh report $(PROFILE)

$(OUT)/report.html: $(OUT)/report.ipynb scripts/render_report.sh notebooks/templates/report/index.html.j2
	@bash scripts/render_report.sh html $<

$(OUT)/report.pdf: $(OUT)/report.ipynb scripts/render_report.sh notebooks/templates/report-pdf/index.tex.j2
	@bash scripts/setup-latex.sh
	@bash scripts/render_report.sh pdf $<

.PHONY: report
report: $(STAMP) ## render the study to reports/$(PROFILE)/report.{html,pdf} (PROFILE=full|quick, JOBS=2)
	@echo "== report: profile $(PROFILE), runs $(foreach r,$(RUNS),$(r) (seeds $(call seeds,$(r)))) x $(words $(ARCHS)) architectures, $(JOBS) jobs"
	@$(MAKE) --no-print-directory --keep-going -j$(JOBS) cells
	@$(MAKE) --no-print-directory $(OUT)/report.html $(OUT)/report.pdf
	@echo "== done: $(OUT)/report.html and $(OUT)/report.pdf"

## ---- development -------------------------------------------------------------------------
.PHONY: test
test: $(STAMP) ## run the test suite (uses $$MNIST_SOURCE for the real-data tests when set)
	$(PY) -m pytest -n 2 --dist loadfile -q tests --ignore=tests/report

.PHONY: test-report
test-report: $(STAMP) ## render the quick report and check it holds every table, figure and GIF
	@$(MAKE) --no-print-directory report PROFILE=quick
	$(PY) -m pytest -q tests/report

.PHONY: bench
bench: $(STAMP) ## print training throughput, matmul peak and the projected study time
	$(PY) scripts/bench.py

.PHONY: lab
lab: $(STAMP) ## start JupyterLab with the project's kernel
	$(VENV)/bin/jupyter lab --notebook-dir=$(CURDIR)

.PHONY: clean-quick
clean-quick: ## delete the quick profile's outputs and checkpoints
	rm -rf reports/quick checkpoints/quick

.PHONY: clean-checkpoints
clean-checkpoints: ## delete checkpoints of PROFILE, so the next `make report` trains afresh
	rm -rf checkpoints/$(PROFILE)

.PHONY: help
help: ## list the targets
	@sed -n '1,2p' Makefile | sed 's/^# //'
	@grep -E '^[a-zA-Z_-]+:.*## ' Makefile | awk 'BEGIN{FS=":.*## "}{printf "  make %-18s %s\n", $$1, $$2}'
