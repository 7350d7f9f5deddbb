# Shared by every rule file: the selection (checked), the paths of every output, helpers.
import os
import sys

import vae_core
from vae_report import layout
from vae_report.workflow import selection as wf
from vae_report.errors import ParameterError
from vae_report.params import MAIN_RUNS
from vae_report.param_files import parameter_files

# config/config.yaml's values, overridden by --config (checked against the schema beforehand);
# an empty runs or archs means every one
PROFILE = str(config["profile"])
RUNS = wf.words(config.get("runs") or " ".join(wf.RUNS))
ARCHS = wf.words(config.get("archs") or " ".join(vae_core.ARCHS))
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
# the project's commands (pyproject.toml's [project.scripts]) beside the .venv's python, which
# runs snakemake
BIN = os.path.dirname(sys.executable)
MNIST_CMD, TRAIN_CMD, NOTEBOOK_CMD, PUBLISH_CMD = (os.path.join(BIN, name) for name in (
    "vae-mnist", "vae-train", "vae-notebook", "vae-publish"))
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


def names(run=None):
    """papermill's ``-p`` options naming a notebook's profile and run: it reads every other value
    from their parameter files itself (``params.notebook_params``)."""
    return f"-p profile {PROFILE}" + (f" -p run {run}" if run else "")


def each_cell(pattern, **fixed):
    return [pattern.format(run=r, seed=s, arch=a, **fixed)
            for r in RUNS for s in SEEDS[r] for a in RUN_ARCHS[r]]


def cells(step):
    return each_cell(CELL, step=step)


wildcard_constraints:
    run="|".join(RUNS),
    seed=r"\d+",
    arch="|".join(ARCHS),
    step="|".join(STEPS),


localrules: all, cells, models, mnist, publish_model, publish_classifier, report_html, report_pdf
