# VAE report suite. `make help` lists the targets; `make report` renders the study,
# `make report PROFILE=quick` a smoke version of it, `make test` runs the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PROFILE  ?= full
RUNS     ?=
ARCHS    ?=
JOBS     ?= 2
EXECUTOR ?= local
# A folder of MNIST idx files to use offline: ../shared/mnist when it exists (a path with spaces
# works), else empty, and torchvision downloads MNIST into data/ as usual.
MNIST_SOURCE ?= $(shell d='$(CURDIR)/../shared/mnist'; [ -d "$$d" ] && cd "$$d" && pwd)
export MNIST_SOURCE

# RUNS=" " or ARCHS="" given on the command line would select nothing, yet Make's $(if) reads
# a blank value as "not given" and the workflow would run the whole study: refuse it here.
$(foreach v,RUNS ARCHS,$(if $(and $(filter command line environment,$(origin $(v))),$(if $(strip $($(v))),,blank)),\
  $(error $(v) is empty: name what to select, e.g. $(v)="$(if $(filter RUNS,$(v)),retrained,vanilla deep-512)", or leave $(v) out for all)))

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
KERNEL := vae-report

# The DAG is the Snakefile's; RUNS and ARCHS narrow it (default: every run of params/runs/ and
# every architecture of vae_core.ARCHS), EXECUTOR=slurm sends its jobs to a Slurm cluster.
# $(call SNAKEMAKE,targets and options): they go first, since `--config` takes every word after
# it (a target after it would be read as a config entry).
SNAKEMAKE = $(VENV)/bin/snakemake $(1) --cores $(JOBS) \
	$(if $(filter slurm gpu,$(EXECUTOR)),--profile profiles/$(EXECUTOR)) $(SNAKEMAKE_ARGS) \
	--config profile=$(PROFILE) $(if $(RUNS),runs="$(RUNS)") $(if $(ARCHS),archs="$(ARCHS)")

## ---- set-up ------------------------------------------------------------------------------
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@# the project itself, editable: `import vae_core, vae_report` from any folder (notebooks/,
	@# JupyterLab, scripts, the workflow); no build isolation: setuptools is in the venv already
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "VAE report (.venv)" >/dev/null
	@touch $@

.PHONY: setup
setup: $(STAMP) ## create .venv with the pinned packages and the notebook kernel

.PHONY: latex
latex: ## install xelatex for the PDF (Debian packages) when missing
	@bash scripts/setup-latex.sh

## ---- the study ---------------------------------------------------------------------------
.PHONY: report
report: $(STAMP) ## render the study to reports/$(PROFILE)/report.{html,pdf} (PROFILE=full|quick, JOBS=2, EXECUTOR=local|slurm|gpu)
	@$(VENV)/bin/vae-plan --repair --profile $(PROFILE) --runs "$(RUNS)" --archs "$(ARCHS)" --jobs $(JOBS)
	$(call SNAKEMAKE)

.PHONY: render
render: $(STAMP) ## re-render the committed study's report (reports/full) from its committed cells: no training, about a minute
	$(VENV)/bin/vae-notebook notebooks/report.ipynb reports/full/report.ipynb -p profile full \
		--label "the committed study's report"
	@bash scripts/setup-latex.sh
	bash scripts/render_report.sh html reports/full/report.ipynb
	bash scripts/render_report.sh pdf reports/full/report.ipynb

.PHONY: cells
cells: $(STAMP) ## run every (run, seed, architecture) notebook that is out of date, not the report
	@$(VENV)/bin/vae-plan --repair --profile $(PROFILE) --runs "$(RUNS)" --archs "$(ARCHS)" --jobs $(JOBS)
	$(call SNAKEMAKE,cells)

.PHONY: dry-run
dry-run: $(STAMP) ## list the jobs `make report` would run now, and why (changes nothing)
	@$(VENV)/bin/vae-plan --profile $(PROFILE) --runs "$(RUNS)" --archs "$(ARCHS)" --jobs $(JOBS)
	$(call SNAKEMAKE,--dry-run --quiet rules)

## ---- development -------------------------------------------------------------------------
.PHONY: test
test: $(STAMP) ## run the test suite (uses $$MNIST_SOURCE for the real-data tests when set)
	$(PY) -m pytest -n 2 --dist loadfile -q -rs tests --ignore=tests/report

.PHONY: test-fast
test-fast: $(STAMP) ## the unit tests only: no JupyterLab, Snakemake, papermill, make or git (tests marked slow)
	$(PY) -m pytest -n 2 --dist loadfile -q -rs tests --ignore=tests/report -m "not slow"

.PHONY: test-report
test-report: $(STAMP) ## render the quick report and check it holds every table, figure and GIF
	@$(MAKE) --no-print-directory report PROFILE=quick
	$(PY) -m pytest -q tests/report

.PHONY: bench
DEVICE ?= cpu
bench: $(STAMP) ## print training throughput and the projected study time (DEVICE=cuda on a GPU)
	$(PY) scripts/bench.py --device $(DEVICE)

# JupyterLab refuses to start as root without --allow-root (containers and CI run as root); the
# project's notebooks are saved without outputs (vae_report/explore/lab.py: exploring changes no file);
# LAB_ARGS adds options, e.g. LAB_ARGS="--no-browser --port=8890".
LAB_ARGS ?=
.PHONY: lab
lab: $(STAMP) ## JupyterLab on notebooks/explore.ipynb with the project's kernel (LAB_ARGS="--port=8890 --no-browser")
	$(VENV)/bin/jupyter lab --notebook-dir="$(CURDIR)" $(if $(filter 0,$(shell id -u)),--allow-root) \
		--ServerApp.contents_manager_class=vae_report.explore.lab.ProjectContentsManager \
		$(LAB_ARGS) notebooks/explore.ipynb

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
