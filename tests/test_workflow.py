"""The Snakefile's DAG (dry runs on the real workflow and on scratch copies), the checks it makes
before any work, and the faults a user meets: a second run in the same checkout, Ctrl-C, no MNIST,
a path with a space."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import vae_core
from vae_report import layout
from vae_report.workflow import selection
from vae_report.errors import ParameterError

# starts JupyterLab, Snakemake, papermill or git: `make test-fast` leaves it out
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def _env(root):
    """The environment for a workflow run in ``root``: its own copy of the package first (the
    venv's editable install points at the real checkout, whose params/ a scratch copy changes)."""
    return {**os.environ, "PYTHONPATH": str(root)}


def _dry_run(cwd, *config, target=None):
    args = [SNAKEMAKE, *([target] if target else []), "--dry-run", "--cores", "2", "--quiet", "host",
            "--config", *config]          # rules not quiet: the jobs and their wildcards are listed
    out = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=_env(cwd))
    return out


def _planned(text):
    """(rule, wildcards) of every job a dry run lists."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule )", text):
        m = re.match(r"(?:local)?rule (\w+):", block.strip())
        if m:
            w = re.search(r"wildcards: (.+)", block)
            jobs.append((m.group(1), dict(kv.split("=") for kv in w.group(1).split(", ")) if w else {}))
    return jobs


def test_the_selection_is_checked_with_the_choices_named():
    selection.check_selection("quick", ["original"], ["vanilla"])
    with pytest.raises(ParameterError, match=r"PROFILE='nope' is not one of full, quick"):
        selection.check_selection("nope", ["original"], ["vanilla"])
    with pytest.raises(ParameterError, match=r"RUNS: 'B' is not one of original, retrained"):
        selection.check_selection("quick", ["B"], ["vanilla"])
    with pytest.raises(ParameterError, match=r"ARCHS: 'deep-999' is not one of vanilla, deep-128"):
        selection.check_selection("quick", ["original"], ["deep-999"])


def test_a_bad_selection_stops_the_workflow_before_any_work(tmp_path):
    """End to end, once (each message is the check's above): the Snakefile stops at parse time
    with the check's one line and leaves no empty output folder."""
    before = set((ROOT / "reports").iterdir())
    out = _dry_run(ROOT, "profile=quick", "runs=B")
    assert out.returncode != 0 and "RUNS: 'B' is not one of original, retrained" in out.stderr + out.stdout
    assert set((ROOT / "reports").iterdir()) == before          # no empty output folder


def test_seeds_come_from_the_run_files_as_merged():
    from vae_report.param_files import study_parameters
    assert selection.run_seeds("retrained", "quick") == study_parameters("quick", "retrained")["seeds"]
    import yaml
    for run in ("original", "retrained"):
        assert selection.run_seeds(run, "full") == \
            yaml.safe_load((ROOT / "params" / "runs" / f"{run}.yaml").read_text())["seeds"]


def test_the_dag_has_a_job_per_step_run_seed_and_architecture(tmp_path):
    """From nothing: one training and four steps per (run, seed, arch), the seeds and the
    architectures read from the run files (the variants train three), one classifier, one
    report; a selection narrows it."""
    from vae_report.params import RUNS
    root = _scratch(tmp_path)
    out = _dry_run(root, "profile=quick")
    assert out.returncode == 0, out.stderr
    jobs = _planned(out.stdout)
    expected = {(r, s, a) for r in RUNS
                for s in selection.run_seeds(r, "quick") for a in selection.run_archs(r, "quick")}
    assert {a for r, _, a in expected if r == "original-exp"} == {
        "vanilla", "deep-512", "deep-512-256-128"}
    trained = [(w["run"], int(w["seed"]), w["arch"]) for r, w in jobs if r == "train"]
    assert sorted(trained) == sorted(expected)
    # one training job per (run, architecture) trains all the run's seeds (stacked)
    stacks = [(r.removeprefix("train_"), w["arch"]) for r, w in jobs if r.startswith("train_")]
    assert sorted(stacks) == sorted({(r.replace("-", "_"), a) for r, _, a in expected})
    steps = [(w["run"], int(w["seed"]), w["arch"], w["step"]) for r, w in jobs if r == "step"]
    assert sorted(steps) == sorted((*c, s) for c in expected
                                   for s in ("02-elbo", "03-collapse", "04-samples", "05-chain"))
    counts = {r: sum(1 for rule, _ in jobs if rule == r) for r in
              ("mnist", "classifier", "report", "report_html", "report_pdf")}
    assert counts == dict.fromkeys(counts, 1)
    narrowed = _planned(_dry_run(root, "profile=quick", "runs=retrained",
                                 "archs=vanilla deep-512").stdout)
    assert sorted((w["run"], w["arch"]) for r, w in narrowed if r == "train") == sorted(
        ("retrained", a) for s in selection.run_seeds("retrained", "quick")
        for a in ("vanilla", "deep-512"))


def test_code_of_follows_the_imports():
    job = selection.code_of("vae_report/workflow/train_job.py")          # the training job
    assert {"vae_core.py", "vae_report/train/loop.py", "vae_report/train/fast_step.py",
            "vae_report/workflow/train_job.py"} <= set(job)
    train = selection.code_of("notebooks/01-train.ipynb")                # reads a checkpoint
    assert {"vae_core.py", "vae_report/train/checkpoints.py", "vae_report/train/state.py"} <= set(train)
    assert "vae_report/train/loop.py" not in train and "vae_report/train/fast_step.py" not in train
    assert "vae_report/pictures.py" not in train and "vae_report/metrics/classifier.py" not in train
    samples = selection.code_of("notebooks/04-samples.ipynb")
    assert {"vae_report/pictures.py", "vae_report/metrics/classifier.py"} <= set(samples)
    assert "vae_report/train/loop.py" not in samples
    assert "vae_report/report/judge.py" in selection.code_of("notebooks/report.ipynb")


# ---- scratch copies of the workflow ------------------------------------------------------------

def _scratch(tmp_path, name="proj"):
    root = tmp_path / name
    root.mkdir(parents=True)
    for f in ("vae_core.py", "Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(ROOT / f, root / f)
    for d in ("vae_report", "notebooks", "params", "scripts", "profiles", "workflow", "config"):
        shutil.copytree(ROOT / d, root / d, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _touch_all(paths, when=2e9):
    import torch

    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.suffix == ".pt":
            torch.save({}, p)            # a whole archive: the workflow sets damaged ones aside
        else:
            p.write_text("{}")
        os.utime(p, (when, when))


def _cell_outputs(root, run="original", seed=0, arch="vanilla"):
    cell = root / "reports" / "quick" / run / f"seed-{seed}" / arch
    outs = [cell / f"{s}.ipynb" for s in layout.CELL_STEPS]
    return outs + [root / "checkpoints" / "quick" / run / f"seed-{seed}" / f"{arch}.pt"]


def test_a_missing_checkpoint_retrains_and_a_plot_edit_reruns_only_its_step(tmp_path):
    root = _scratch(tmp_path)
    shared = [root / "reports" / "quick" / "classifier" / "00-classifier.ipynb",
              root / "checkpoints" / "quick" / "classifier.pt", root / "data" / "MNIST" / "tensors.pt"]
    seeds = selection.run_seeds("original", "quick")
    cells = [p for s in seeds for p in _cell_outputs(root, seed=s)]
    _touch_all(cells + shared)
    config = ("profile=quick", "runs=original", "archs=vanilla")

    def planned():
        out = _dry_run(root, *config, target="cells")
        assert out.returncode == 0, out.stderr
        return sorted((r, int(w.get("seed", -1)), w.get("step", "")) for r, w in _planned(out.stdout)
                      if r.startswith("train") or r == "step")

    def retrained():   # the run's training job (all its seeds together), then every seed's notebooks
        return sorted([("train_original", -1, "")] + [
            (r, s, step) for s in seeds for r, step in
            [("train", "")] + [("step", st) for st in ("02-elbo", "03-collapse", "04-samples", "05-chain")]])

    assert planned() == []
    (root / "checkpoints" / "quick" / "original" / "seed-0" / "vanilla.pt").unlink()
    assert planned() == retrained()
    _touch_all(cells)
    os.utime(root / "notebooks" / "04-samples.ipynb", (3e9, 3e9))        # a plot edited
    assert planned() == [("step", s, "04-samples") for s in seeds]
    _touch_all(cells, when=3.2e9)
    os.utime(root / "notebooks" / "01-train.ipynb", (3.3e9, 3.3e9))      # its curves edited
    assert planned() == [("train", s, "") for s in seeds]                # no training, no step
    _touch_all(cells, when=3.5e9)
    os.utime(root / "vae_report" / "train" / "loop.py", (4e9, 4e9))             # training code edited
    assert planned() == retrained()


def _stub_runner(root):
    """A notebook runner (vae-notebook's module, in the scratch copy that PYTHONPATH puts first)
    that announces itself (file `started`), waits for the file `release` (at most 120 s) and
    writes its output: tests the workflow's behaviour, not the notebooks'."""
    (root / "vae_report" / "workflow" / "run_notebook.py").write_text(
        "import sys, time, pathlib\n"
        "def main():\n"
        "    out = pathlib.Path(sys.argv[2]); pathlib.Path('started').touch()\n"
        "    t = time.time()\n"
        "    while not pathlib.Path('release').exists() and time.time() - t < 120: time.sleep(0.2)\n"
        "    out.parent.mkdir(parents=True, exist_ok=True); out.write_text('{}')\n"
        "    if out.parent.name == 'classifier':   # the classifier's rule also declares its weights\n"
        "        w = pathlib.Path('checkpoints/quick/classifier.pt')\n"
        "        w.parent.mkdir(parents=True, exist_ok=True); w.write_text('{}')\n"
        "    return 0\n")


def test_a_second_run_in_the_same_checkout_is_refused_at_once(tmp_path):
    root = _scratch(tmp_path)
    _stub_runner(root)
    _touch_all([root / "data" / "MNIST" / "tensors.pt"], when=1e9)          # made long ago
    args = [SNAKEMAKE, "--cores", "1", "--config", "profile=quick", "runs=original",
            "archs=vanilla", "--", "reports/quick/classifier/00-classifier.ipynb"]
    first = subprocess.Popen(args, cwd=root, env=_env(root), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT,
                             text=True)
    try:
        deadline = time.time() + 300
        while not (root / "started").exists() and time.time() < deadline:
            time.sleep(0.2)
        assert (root / "started").exists(), "the first run never started its job"
        second = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=120,
                                env=_env(root))
        assert second.returncode != 0
        assert "Directory cannot be locked" in second.stdout + second.stderr
    finally:
        (root / "release").touch()
        out, _ = first.communicate(timeout=300)
    assert first.returncode == 0, out                          # the first was not disturbed
    assert (root / "reports" / "quick" / "classifier" / "00-classifier.ipynb").exists()


def test_no_mnist_gives_one_clear_error_before_any_cell(tmp_path):
    root = _scratch(tmp_path)
    env = {**_env(root), "MNIST_SOURCE": str(tmp_path / "no-such-folder")}
    out = subprocess.run([SNAKEMAKE, "cells", "--cores", "2", "--config", "profile=quick",
                          "runs=original", "archs=vanilla"], cwd=root, env=env, capture_output=True,
                         text=True, timeout=300)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert text.count("MNIST source folder") == 1 and "does not exist" in text
    assert not (root / "reports").exists()                     # no cell started


def test_the_default_mnist_source_survives_a_path_with_a_space(tmp_path):
    spaced = tmp_path / "a b"
    root = _scratch(spaced)
    (spaced / "shared" / "mnist").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "MNIST_SOURCE"}
    out = subprocess.run(["make", "--no-print-directory", "--eval", "show: ; @echo \"[$$MNIST_SOURCE]\"",
                          "show"], cwd=root, env=env, capture_output=True, text=True)
    assert out.stdout.strip() == f"[{spaced / 'shared' / 'mnist'}]", out.stderr


# ---- the notebook runner -----------------------------------------------------------------------

def _notebook(path, *sources):
    import nbformat
    nb = nbformat.v4.new_notebook(metadata={"language_info": {"name": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(sources[0], metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in sources[1:]]
    nbformat.write(nb, path)
    return path


def _runner(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "vae_report.workflow.run_notebook", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_the_runner_passes_values_and_names_the_output_only_when_done(tmp_path):
    nb = _notebook(tmp_path / "in.ipynb", "x = 1\ny = 'a'\nz = None", "print('x =', x, 'y =', y, 'z =', z)")
    out = tmp_path / "out" / "step.ipynb"
    p = _runner(nb, out, "-p", "x", "21", "-p", "z", "[1, 2]")
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, stderr
    assert "start" in stdout and "done" in stdout
    assert "x = 21 y = a z = [1, 2]" in out.read_text()         # -p values read as YAML
    assert not list(out.parent.glob(".*partial*")) and "x = 21" in (out.parent / "step.log").read_text()


def test_a_failing_notebook_is_kept_aside_with_its_error(tmp_path):
    nb = _notebook(tmp_path / "in.ipynb", "x = 1", "raise ValueError('bad value of x')")
    out = tmp_path / "step.ipynb"
    p = _runner(nb, out)
    _, stderr = p.communicate(timeout=120)
    assert p.returncode == 1
    assert "FAILED" in stderr and "ValueError: bad value of x" in stderr
    assert not out.exists() and (tmp_path / "step.failed.ipynb").exists()


def test_ctrl_c_says_interrupted_without_a_traceback(tmp_path):
    marker = tmp_path / "cell-started"
    nb = _notebook(tmp_path / "in.ipynb", "x = 1",
                   f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()\ntime.sleep(120)")
    out = tmp_path / "step.ipynb"
    p = _runner(nb, out, start_new_session=True)
    deadline = time.time() + 300                               # a loaded machine starts kernels slowly
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert marker.exists(), "the notebook's sleeping cell never started"
    t0 = time.time()
    os.killpg(p.pid, signal.SIGINT)                            # what Ctrl-C sends: the group
    _, stderr = p.communicate(timeout=100)
    assert p.returncode == 130 and time.time() - t0 < 100, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not out.exists() and not (tmp_path / ".step.partial.ipynb").exists()


def test_train_per_run_is_one_training_job_per_run_holding_all_its_models():
    """--config train_per=run (the default where jobs use a GPU): one job per run, whose shell
    trains every architecture of the run together; the steps still read each checkpoint."""
    out = _dry_run(ROOT, "profile=quick", "runs=original-exp", "train_per=run")
    assert out.returncode == 0, out.stderr
    jobs = _planned(out.stdout)
    assert [r for r, _ in jobs if r.startswith("train_")] == ["train_original_exp"]
    block = out.stdout.split("rule train_original_exp:")[1].split("\n\n")[0]
    outputs = re.search(r"output: (.+)", block).group(1).split(", ")
    assert len(outputs) == len(selection.run_seeds("original-exp", "quick")) * 3
    shell = _dry_run_shell(ROOT, "profile=quick", "runs=original-exp", "train_per=run")
    assert "--arch vanilla deep-512 deep-512-256-128 --together" in shell
    refused = _dry_run(ROOT, "profile=quick", "train_per=model")
    text = refused.stderr + refused.stdout
    assert refused.returncode != 0 and "'model' is not one of ['arch', 'run']" in text, text


def test_the_workflow_config_is_checked_against_its_schema_when_read():
    """config/config.yaml and --config are validated (workflow/schemas/config.schema.yaml): a
    misspelt key stops the workflow before any job, naming the key."""
    out = _dry_run(ROOT, "profile=quick", "prfile=full")
    text = out.stderr + out.stdout
    assert out.returncode != 0 and "'prfile' was unexpected" in text, text


def _dry_run_shell(cwd, *config):
    """The shell commands a dry run would run."""
    out = subprocess.run([SNAKEMAKE, "--dry-run", "--printshellcmds", "--cores", "2", "--quiet",
                          "progress", "--config", *config], cwd=cwd, capture_output=True, text=True,
                         env=_env(cwd))
    return out.stdout


def test_training_jobs_run_the_costliest_first():
    order = sorted(((r, a) for r in ("original", "retrained") for a in vae_core.ARCHS),
                   key=lambda ra: -selection.training_priority("full", *ra))
    assert order[0] == ("original", "deep-512-256-128") and order[-1] == ("retrained", "vanilla")
    assert all(10 <= selection.training_priority("full", r, a) < 20 for r, a in order)


def _bad_line(root, line):
    """``params/profiles/quick.yaml`` under ``root`` with ``line`` as its third line."""
    profile = root / "params" / "profiles" / "quick.yaml"
    key = line.split(":")[0]            # the profile's own line of that key would win
    kept = [l for l in profile.read_text().splitlines() if not l.startswith(("epochs:", f"{key}:"))]
    profile.write_text("\n".join(kept[:2] + [line] + kept[2:]) + "\n")


@pytest.mark.parametrize("line, message", [
    ('epochs: "two"', "epochs: expected int, got str 'two' — set in params/profiles/quick.yaml, line 3"),
    ("epochs: null", "epochs: expected int, got NoneType None — set in params/profiles/quick.yaml, line 3"),
    ("learning_rate: 0.001", "'learning_rate' (params/profiles/quick.yaml, line 3; did you mean 'lr'?)"),
    ("seeds: 0", "seeds: expected list, got int 0 — set in params/profiles/quick.yaml, line 3"),
    ("epochs: [2", "params/profiles/quick.yaml, line 4: not valid YAML"),
])
def test_a_bad_parameter_file_is_named_with_its_file_and_line(line, message, tmp_path, monkeypatch):
    """What the Snakefile checks at parse time (selection.check_parameters), on a copy of
    params/ with one bad line; the workflow's own run of it is the test below."""
    shutil.copytree(ROOT / "params", tmp_path / "params")
    _bad_line(tmp_path, line)
    monkeypatch.setattr(layout, "PROJECT_ROOT", tmp_path)
    with pytest.raises(ParameterError) as err:
        selection.check_parameters("quick", ["original", "retrained"])
    assert message in str(err.value)


def test_a_bad_parameter_file_stops_the_workflow_naming_the_file_and_line(tmp_path):
    root = _scratch(tmp_path)
    _bad_line(root, 'epochs: "two"')
    out = _dry_run(root, "profile=quick")
    text = out.stderr + out.stdout
    assert out.returncode != 0, text[-2000:]
    assert "epochs: expected int, got str 'two' — set in params/profiles/quick.yaml, line 3" in text
    assert "Traceback" not in text and "invalid literal" not in text


def test_a_damaged_classifier_is_rebuilt_with_what_was_built_from_it_and_a_dry_run_moves_nothing(tmp_path):
    """Issue 34: "moved aside, it will be rebuilt" then "Nothing to be done" was untrue —
    Snakemake does not remake a missing file while the outputs after it are current. The front
    door (`make report`, `make cells`: vae_report.workflow.plan --repair) sets the file aside *and*
    deletes the notebooks built from it; a dry run (`make dry-run`, snakemake -n) moves nothing."""
    import torch

    root = _scratch(tmp_path)
    weights = root / "checkpoints" / "quick" / "classifier.pt"
    weights.parent.mkdir(parents=True)
    torch.save({"model": {"w": torch.zeros(1000)}}, weights)
    whole = weights.read_bytes()
    outputs = _cell_outputs(root)
    _touch_all(outputs + [root / "reports" / "quick" / "classifier" / "00-classifier.ipynb"])
    weights.write_bytes(whole[: len(whole) // 2])                  # truncated
    ckpt = outputs[-1]                                              # a whole checkpoint: kept
    chosen = ["--profile", "quick", "--runs", "original", "--archs", "vanilla"]
    dry = _dry_run(root, "profile=quick", "runs=original", "archs=vanilla")
    looked = subprocess.run([sys.executable, "-m", "vae_report.workflow.plan", *chosen], cwd=root,
                            capture_output=True, text=True)
    assert weights.read_bytes() == whole[: len(whole) // 2], "a dry run moved the file"
    assert "damaged" not in dry.stderr                              # the Snakefile's parse: silent
    assert "classifier.pt is damaged" in looked.stderr and "will set it aside" in looked.stderr
    fixed = subprocess.run([sys.executable, "-m", "vae_report.workflow.plan", "--repair", *chosen],
                           cwd=root, capture_output=True, text=True)
    assert fixed.returncode == 0, fixed.stderr
    assert "moved to classifier.pt.damaged; this run rebuilds it and the 3 notebook(s)" in fixed.stderr
    assert (weights.parent / "classifier.pt.damaged").read_bytes() == whole[: len(whole) // 2]
    assert ckpt.exists() and not weights.exists()
    planned = {rule for rule, _ in _planned(_dry_run(root, "profile=quick", "runs=original",
                                                     "archs=vanilla").stdout)}
    assert {"classifier", "step"} <= planned, planned               # it and what it judged
