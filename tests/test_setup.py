"""The pins live in requirements.txt; environment.yml must carry the same ones."""
import re
import subprocess
from pathlib import Path

import pytest
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


def test_every_make_target_is_documented():
    text = (ROOT / "Makefile").read_text()
    phony = set(re.findall(r"^\.PHONY:\s*(\S+)", text, re.M))
    documented = set(re.findall(r"^([a-zA-Z_-]+):.*## ", text, re.M))
    assert phony <= documented, phony - documented


@pytest.mark.slow
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


@pytest.mark.slow
def test_every_target_make_help_lists_works():
    """Each target `make help` lists runs: the workflow's in Snakemake's dry-run, the others as
    `make -n` (their commands printed, not run). `make cells` once failed at every call."""
    listed = subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    targets = re.findall(r"^\s+make (\S+)", listed, re.M)
    assert {"report", "cells", "dry-run", "test", "lab", "setup"} <= set(targets), targets
    for target in targets:
        if target in ("report", "cells", "dry-run"):
            cmd = ["make", "--no-print-directory", target, "PROFILE=quick",
                   "SNAKEMAKE_ARGS=--dry-run --quiet"]
        else:
            cmd = ["make", "--no-print-directory", "-n", target]
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, f"make {target}: {run.stdout[-1500:]}{run.stderr[-1500:]}"


def test_every_notebook_is_valid_and_its_cells_have_ids():
    """nbformat 4.5 wants an id on every cell (a cell added by hand lacks one: a warning in
    every run that reads it, an error in a future nbformat)."""
    import warnings

    import nbformat

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            nb = nbformat.read(path, as_version=4)
            nbformat.validate(nb)
        assert all(c.get("id") for c in nb.cells), path.name


def test_the_project_is_installed_not_put_on_sys_path():
    """`make setup` installs the project (pyproject.toml, editable): the workflow's code, its
    scripts and the tests edit no sys.path, and the package imports from any folder."""
    import subprocess
    import sys

    assert (ROOT / "pyproject.toml").is_file()
    for path in [ROOT / "workflow" / "Snakefile", *(ROOT / "workflow" / "rules").glob("*.smk"),
                 ROOT / "tests" / "conftest.py",
                 *(ROOT / "scripts").glob("*.py"), *(ROOT / "vae_report").rglob("*.py"),
                 *(ROOT / "tests").rglob("*.py")]:
        assert "sys.path.insert" not in path.read_text() or path.name == "test_setup.py", path
    done = subprocess.run([sys.executable, "-c", "import vae_core, vae_report.report.judge; "
                           "print(vae_core.__file__)"], cwd="/", capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == str(ROOT / "vae_core.py"), done.stderr
