# Training: one job per (run, architecture) trains all the run's seeds into their checkpoints —
# side by side as one stacked model (params: stack_seeds) — the costliest first, so that no long
# training is left running alone at the end; then the classifier (priority 5), then the
# notebooks that read the checkpoints (0). A rule per run: its outputs are its seeds' files.
# With train_per=run (the default when jobs use a GPU, where one model per process is bound by
# kernel launches, not arithmetic) one job holds all the run's models and steps them together:
# one CUDA graph replays a step of the whole run (vae-train --together).
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
            code=wf.code_of("vae_report/workflow/train_job.py"),
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
            "{TRAIN_CMD:q} --profile {PROFILE} --run {params.run} "
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
        cell=lambda w: names(w.run),
    threads: 1
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=20,
    shell:
        "{NOTEBOOK_CMD:q} {input.nb:q} {output.nb:q} {params.cell} "
        "-p seed {wildcards.seed} -p arch {wildcards.arch} --label {params.label:q}"
