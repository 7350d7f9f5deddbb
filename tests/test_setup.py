"""The pins live in requirements.txt; environment.yml must carry the same ones."""
import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines):
    return {m.group(1).lower(): m.group(2) for line in lines
            if (m := re.match(r"^\s*([A-Za-z0-9_.\-]+)==([^\s#]+)", line))}


def test_environment_yml_mirrors_requirements():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert _pins(pip) == req
    assert {"torch", "torchvision", "papermill", "nbconvert", "jupyterlab"} <= set(req)


def test_importing_the_code_has_no_side_effects(tmp_path):
    """vae_core and every module of vae_report import without touching the RNG, the disk,
    torchvision or torch's process-wide settings."""
    import pkgutil
    import sys

    import vae_report
    modules = ["vae_core"] + [f"vae_report.{m.name}" for m in pkgutil.iter_modules(vae_report.__path__)]
    code = ("import importlib, sys, torch; s = torch.get_rng_state(); t = torch.get_num_threads(); "
            f"[importlib.import_module(m) for m in {modules!r}]; "
            "assert torch.equal(s, torch.get_rng_state()); assert t == torch.get_num_threads(); "
            "assert 'torchvision' not in sys.modules, 'torchvision imported eagerly'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "ok", out.stderr
    assert not any(tmp_path.iterdir())


def test_makefile_lists_the_architectures_and_runs_of_vae_core():
    import vae_core
    from vae_report.params import RUNS

    text = (ROOT / "Makefile").read_text()
    archs = re.search(r"^ARCHS\s*\?=\s*(.+)$", text, re.M).group(1).split()
    runs = re.search(r"^RUNS\s*\?=\s*(.+)$", text, re.M).group(1).split()
    assert archs == list(vae_core.ARCHS)
    assert runs == list(RUNS)
    assert {p.stem for p in (ROOT / "params" / "runs").glob("*.yaml")} == set(RUNS)


def test_make_runs_every_seed_listed_in_the_run_files():
    """The Makefile reads `seeds: [...]` from params/runs/<run>.yaml: one training cell per seed."""
    out = subprocess.run(["make", "-n", "-B", "cells", "PROFILE=quick"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    trained = set(re.findall(r"run_notebook\.sh 01-train quick (\S+) (\d+) (\S+)", out))
    for run in ("original", "retrained"):
        seeds = yaml.safe_load((ROOT / "params" / "runs" / f"{run}.yaml").read_text())["seeds"]
        assert {(r, int(s)) for r, s, _ in trained if r == run} == {(run, s) for s in seeds}
        assert len([t for t in trained if t[0] == run]) == len(seeds) * 7
    assert "run_notebook.sh 00-classifier quick" in out


def test_a_missing_checkpoint_makes_its_training_notebook_run(tmp_path):
    """Executed notebooks newer than their sources are up to date for make, but one whose
    checkpoint is gone (fresh clone, `make clean-checkpoints`) must train again."""
    import os
    import shutil

    from vae_report.layout import CELL_STEPS

    for name in ("Makefile", "requirements.txt", "vae_core.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ("notebooks", "params", "scripts", "vae_report"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    cell = tmp_path / "reports" / "quick" / "original" / "seed-0" / "vanilla"
    cell.mkdir(parents=True)
    outputs = [cell / f"{step}.ipynb" for step in CELL_STEPS]
    outputs.append(tmp_path / "reports" / "quick" / "classifier" / "00-classifier.ipynb")
    ckpt = tmp_path / "checkpoints" / "quick" / "original" / "seed-0" / "vanilla.pt"
    classifier = tmp_path / "checkpoints" / "quick" / "classifier.pt"
    for path in outputs + [ckpt, classifier]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
        os.utime(path, (2e9, 2e9))          # newer than every source file

    def planned():
        out = subprocess.run(["make", "-n", "cells", "PROFILE=quick", "RUNS=original",
                              "ARCHS=vanilla"], cwd=tmp_path, capture_output=True, text=True,
                             check=True).stdout
        return re.findall(r"run_notebook\.sh (\S+)", out)

    assert planned() == []
    ckpt.unlink()
    assert sorted(planned()) == sorted(CELL_STEPS)
    ckpt.write_text("{}")
    os.utime(ckpt, (2e9, 2e9))
    classifier.unlink()
    assert sorted(planned()) == ["00-classifier", "04-samples", "05-chain"]


def test_every_make_target_is_documented():
    text = (ROOT / "Makefile").read_text()
    # FORCE is an internal prerequisite (a missing checkpoint), not a command
    phony = set(re.findall(r"^\.PHONY:\s*(\S+)", text, re.M)) - {"FORCE"}
    documented = set(re.findall(r"^([a-zA-Z_-]+):.*## ", text, re.M))
    assert phony <= documented, phony - documented


def test_git_commit_is_dirty_for_code_changes_not_for_rendered_outputs(tmp_path, monkeypatch):
    from vae_report import layout, provenance

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "r.json").write_text("1")
    (tmp_path / "code.py").write_text("a = 1")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x")
    monkeypatch.setattr(layout, "PROJECT_ROOT", tmp_path)
    clean = provenance.git_commit()
    assert len(clean) == 40
    (tmp_path / "reports" / "r.json").write_text("2")
    assert provenance.git_commit() == clean
    (tmp_path / "code.py").write_text("a = 2")
    assert provenance.git_commit() == clean + "+dirty"


def test_lean_papermill_runs_a_notebook_with_its_parameters(tmp_path):
    """scripts/papermill_lean.py is papermill's command line: parameters injected, cells run."""
    import sys

    import nbformat
    nb = nbformat.v4.new_notebook(metadata={"language_info": {"name": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("y = x * 2\nprint('y =', y)")]
    src, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "papermill_lean.py"), str(src), str(out),
                    "-p", "x", "21", "-k", "python3", "--no-progress-bar"],
                   check=True, capture_output=True, text=True)
    executed = nbformat.read(out, as_version=4)
    nbformat.validate(executed)
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                      for o in c.get("outputs", []))
    assert "y = 42" in printed


def test_vae_core_stays_small_and_holds_the_one_elbo():
    """The design card's promise: model and loss in a small file; the rest in the package."""
    text = (ROOT / "vae_core.py").read_text()
    assert len(text.splitlines()) <= 300
    for name in ("def elbo_terms", "def gaussian_log_likelihood", "def kl_to_standard_normal",
                 "def positive_std", "class VAE", "ARCHS"):
        assert name in text
    package = "".join(p.read_text() for p in (ROOT / "vae_report").glob("*.py"))
    # the package builds on vae_core's definitions instead of defining its own
    for name in ("def elbo_terms", "def gaussian_log_likelihood", "def kl_to_standard_normal",
                 "def positive_std", "F.softplus("):
        assert name not in package, name
