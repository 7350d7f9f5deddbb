# The study's DAG: every notebook of every (run, seed, architecture) cell, the digit classifier,
# the report and its HTML and PDF. `make report` runs it locally; `make report EXECUTOR=slurm`
# (or `snakemake --profile profiles/slurm`) submits every job to a Slurm cluster.
#
#   snakemake --cores 2 --config profile=quick               # what `make report PROFILE=quick` runs
#   snakemake -n --config profile=full runs=retrained archs="vanilla deep-512"   # a dry run
#
# Everything it knows about the study comes from the package: the layout of the outputs
# (vae_report.layout), the runs' seeds and the parameter layers (params/ via
# vae_report.workflow), the architectures (vae_core.ARCHS). Which edits rerun what: a job reruns
# when an input is newer than its outputs — its notebook, its parameter files, or a project
# module the notebook imports (workflow.code_of) — or when its checkpoint is missing.
import sys

import vae_core
from vae_report import layout
from vae_report import workflow as wf
from vae_report.errors import ParameterError
from vae_report.params import MAIN_RUNS, parameter_files

PROFILE = str(config.get("profile", "full"))
RUNS = wf.words(config.get("runs", " ".join(wf.RUNS)))
ARCHS = wf.words(config.get("archs", " ".join(vae_core.ARCHS)))
try:                       # before any work: one line naming the problem, the file and the fix
    wf.check_selection(PROFILE, RUNS, ARCHS)      # the valid choices named
    wf.check_parameters(PROFILE, RUNS)            # every layer, each error with its file and line
except ParameterError as exc:
    sys.exit(f"error: {exc}")
SEEDS = {run: wf.run_seeds(run, PROFILE) for run in RUNS}
# each run's architectures within the selection (the seed-faithful variants train three)
RUN_ARCHS = {run: [a for a in wf.run_archs(run, PROFILE) if a in ARCHS] for run in RUNS}
STEPS = ["02-elbo", "03-collapse", "04-samples", "05-chain"]
JUDGED = ["04-samples", "05-chain"]               # the steps that ask the digit classifier
PYTHON = sys.executable                           # the .venv's, which runs snakemake
# GPU jobs: under device cuda (or auto on a CUDA machine) training and evaluation ask for one
# unit of the `gpu` resource: the Slurm plugin turns it into --gpus, and locally
# `--resources gpu=N` (profiles/gpu) bounds how many share the GPUs at once
GPU = 1 if wf.jobs_use_gpu(PROFILE) else 0

# a report of a selection gathers only its cells
SELECTION = "".join(f" -p {name} '[{', '.join(chosen)}]'"
                    for name, chosen, every in (("runs", RUNS, list(wf.RUNS)),
                                                ("archs", ARCHS, list(vae_core.ARCHS)))
                    if chosen != every)

rel = layout.relative
CELL = rel(layout.cell_notebook(PROFILE, "{run}", "{seed}", "{arch}", "{step}"))
TRAIN = rel(layout.cell_notebook(PROFILE, "{run}", "{seed}", "{arch}", "01-train"))
CHECKPOINT = rel(layout.checkpoint_path(PROFILE, "{run}", "{seed}", "{arch}"))
CLASSIFIER = rel(layout.classifier_notebook(PROFILE))
REPORT = rel(layout.report_file(PROFILE))
MNIST = rel(layout.mnist_cache())
WEIGHTS = rel(layout.classifier_path(PROFILE))
HTML = rel(layout.report_file(PROFILE, ".html"))
PDF = rel(layout.report_file(PROFILE, ".pdf"))
PUBLISHED = rel(layout.published_model_path(PROFILE, "{run}", "{seed}", "{arch}"))
PUBLISHED_CLASSIFIER = rel(layout.published_classifier_path(PROFILE))


def layers(run=None):
    """papermill's ``-f`` options for the parameter files a notebook of ``run`` merges."""
    return " ".join(f"-f {f}" for f in parameter_files(PROFILE, run))


def each_cell(pattern, **fixed):
    return [pattern.format(run=r, seed=s, arch=a, **fixed)
            for r in RUNS for s in SEEDS[r] for a in RUN_ARCHS[r]]


def cells(step):
    return each_cell(CELL, step=step)


# Reused weights are checked before the plan is made (a cheap read of each archive's
# directory): a truncated checkpoint or classifier would otherwise pass for done.
wildcard_constraints:
    run="|".join(RUNS),
    seed=r"\d+",
    arch="|".join(ARCHS),
    step="|".join(STEPS),


localrules: all, cells, models, mnist, publish_model, publish_classifier, report_html, report_pdf


# The weights published with the study (float16; committed for the full profile): the first seed
# of each main run, every architecture, and the classifier — what notebooks/explore.ipynb opens
# in a clone that has no checkpoints (the variants' stay out: the tracked tree's budget).
MODELS = [PUBLISHED.format(run=r, seed=SEEDS[r][0], arch=a)
          for r in RUNS if r in MAIN_RUNS for a in RUN_ARCHS[r]]
MODELS.append(PUBLISHED_CLASSIFIER)


rule all:
    input: HTML, PDF, MODELS


rule models:
    input: MODELS


rule publish_model:
    input: CHECKPOINT
    output: PUBLISHED
    shell: "{PYTHON:q} -m vae_report.checkpoints {input:q} {output:q}"


rule publish_classifier:
    input: WEIGHTS
    output: PUBLISHED_CLASSIFIER
    shell: "{PYTHON:q} -m vae_report.checkpoints --classifier {input:q} {output:q}"


# The checkpoints and the classifier's weights are targets too: Snakemake does not rerun a job
# for a missing intermediate file, but a missing target is always made, and the steps that read
# it then follow.
rule cells:
    input:
        CLASSIFIER, WEIGHTS, each_cell(CHECKPOINT),
        cells("01-train"), [cells(s) for s in STEPS],


rule mnist:
    output: MNIST
    shell: "{PYTHON:q} -m vae_report.data --root data"


rule classifier:
    input:
        nb="notebooks/00-classifier.ipynb",
        code=wf.code_of("notebooks/00-classifier.ipynb"),
        params=parameter_files(PROFILE),
        mnist=MNIST,
    output:
        nb=CLASSIFIER,
        weights=WEIGHTS,
    priority: 5
    params:
        label=f"{PROFILE} classifier",
        files=layers(),
    threads: 1
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=30,
    shell:
        "{PYTHON:q} scripts/run_notebook.py {input.nb:q} {output.nb:q} {params.files} "
        "--label {params.label:q}"


# Training: one job per (run, architecture) trains all the run's seeds into their checkpoints —
# side by side as one stacked model (params: stack_seeds) — the costliest first, so that no long
# training is left running alone at the end; then the classifier (priority 5), then the
# notebooks that read the checkpoints (0). A rule per run: its outputs are its seeds' files.
# With train_per=run (the default when jobs use a GPU, where one model per process is bound by
# kernel launches, not arithmetic) one job holds all the run's models and steps them together:
# one CUDA graph replays a step of the whole run (scripts/train_seeds.py --together).
TRAIN_PER = str(config.get("train_per", "run" if GPU else "arch"))
if TRAIN_PER not in ("arch", "run"):
    sys.exit(f"error: train_per must be arch (a job per run and architecture) or run (a job per "
             f"run, its models stepped together), got {TRAIN_PER!r}: --config train_per=arch")


def _trained_archs(run):
    """The architectures one training job of ``run`` trains: its wildcard's, or all of them."""
    return lambda w: [w.arch] if TRAIN_PER == "arch" else RUN_ARCHS[run]


def _arch_words(run):
    return lambda w: " ".join(_trained_archs(run)(w))


def _training_priority(run):
    return lambda w: max(wf.training_priority(PROFILE, run, a) for a in _trained_archs(run)(w))


for _run in RUNS:
    if not RUN_ARCHS[_run]:
        continue
    rule:
        name: f"train_{_run.replace('-', '_')}"      # a rule name is an identifier
        input:
            script="scripts/train_seeds.py",
            code=wf.code_of("scripts/train_seeds.py"),
            params=parameter_files(PROFILE, _run),
            mnist=MNIST,
        output:
            [CHECKPOINT.format(run=_run, seed=s, arch=a) for s in SEEDS[_run]
             for a in (["{arch}"] if TRAIN_PER == "arch" else RUN_ARCHS[_run])],
        params:
            run=_run,
            archs=_arch_words(_run),
            together="--together" if TRAIN_PER == "run" else "",
        priority: _training_priority(_run)
        threads: 1
        resources:
            gpu=GPU,
            mem_mb=4000 if TRAIN_PER == "arch" else 8000,
            runtime=wf.training_minutes(PROFILE, _run) * (1 if TRAIN_PER == "arch"
                                                          else len(RUN_ARCHS[_run])),
        shell:
            "{PYTHON:q} scripts/train_seeds.py --profile {PROFILE} --run {params.run} "
            "--arch {params.archs} {params.together} --quiet"


# 01-train per (run, seed, arch): reads the finished checkpoint, writes the learning curves and
# history (trains alone only when run by hand without a checkpoint, e.g. in JupyterLab)
rule train:
    input:
        nb="notebooks/01-train.ipynb",
        code=wf.code_of("notebooks/01-train.ipynb"),
        params=lambda w: parameter_files(PROFILE, w.run),
        checkpoint=CHECKPOINT,
        mnist=MNIST,
    output:
        nb=TRAIN,
    params:
        label=lambda w: f"{PROFILE}/{w.run}/seed-{w.seed}/{w.arch} 01-train",
        files=lambda w: layers(w.run),
    threads: 1
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=20,
    shell:
        "{PYTHON:q} scripts/run_notebook.py {input.nb:q} {output.nb:q} {params.files} "
        "-p seed {wildcards.seed} -p arch {wildcards.arch} --label {params.label:q}"


rule step:
    input:
        nb="notebooks/{step}.ipynb",
        code=lambda w: wf.code_of(f"notebooks/{w.step}.ipynb"),
        params=lambda w: parameter_files(PROFILE, w.run),
        checkpoint=CHECKPOINT,          # what a step reads (not 01-train's notebook: its curves)
        classifier=lambda w: [CLASSIFIER] if w.step in JUDGED else [],
    output:
        nb=CELL,
    params:
        label=lambda w: f"{PROFILE}/{w.run}/seed-{w.seed}/{w.arch} {w.step}",
        files=lambda w: layers(w.run),
    threads: 1
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=20,
    shell:
        "{PYTHON:q} scripts/run_notebook.py {input.nb:q} {output.nb:q} {params.files} "
        "-p seed {wildcards.seed} -p arch {wildcards.arch} --label {params.label:q}"


rule report:
    input:
        nb="notebooks/report.ipynb",
        code=wf.code_of("notebooks/report.ipynb"),
        cells=rules.cells.input,
    output:
        nb=REPORT,
    params:
        label=f"{PROFILE} report",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    shell:
        "{PYTHON:q} scripts/run_notebook.py {input.nb:q} {output.nb:q} -p profile {PROFILE} "
        "{SELECTION} --label {params.label:q}"


rule report_html:
    input:
        nb=REPORT,
        renderer="scripts/render_report.sh",
        template="notebooks/templates/report/index.html.j2",
    output: HTML
    shell: "bash scripts/render_report.sh html {input.nb:q}"


rule report_pdf:
    input:
        nb=REPORT,
        renderer="scripts/render_report.sh",
        template="notebooks/templates/report-pdf/index.tex.j2",
    output: PDF
    shell: "bash scripts/setup-latex.sh && bash scripts/render_report.sh pdf {input.nb:q}"
