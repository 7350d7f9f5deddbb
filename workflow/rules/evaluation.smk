# MNIST, the digit classifier and the step notebooks 02–05 of every cell.

rule mnist:
    output: MNIST
    shell: "{MNIST_CMD:q} --root data"


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
        cell=names(),
    threads: 1
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=30,
    shell:
        "{NOTEBOOK_CMD:q} {input.nb:q} {output.nb:q} {params.cell} "
        "--label {params.label:q}"


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
        cell=lambda w: names(w.run),
    threads: 1
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=20,
    shell:
        "{NOTEBOOK_CMD:q} {input.nb:q} {output.nb:q} {params.cell} "
        "-p seed {wildcards.seed} -p arch {wildcards.arch} --label {params.label:q}"
