"""The notebooks' kernels: many started at once never collide; one that dies at start, or never
answers, is killed, started once more, then reported in one FAILED line with no partial file."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

# starts JupyterLab, Snakemake, papermill or git: `make test-fast` leaves it out
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ["-m", "vae_report.workflow.run_notebook"]


@pytest.fixture(scope="module")
def notebook(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("nb") / "tiny.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("n = 0", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print('ran', n)")]
    nb.metadata["kernelspec"] = {"name": "vae-report", "display_name": "VAE report (.venv)",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def _run(notebook: Path, out: Path, *extra: str, env: dict | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *RUNNER, str(notebook), str(out), *extra],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def _fake_kernel(tmp_path: Path, code: str) -> dict:
    """A JUPYTER_PATH whose 'vae-report' kernelspec runs ``code`` instead of a kernel (the
    JUPYTER_PATH folders are searched before the venv's)."""
    spec = tmp_path / "jupyter" / "kernels" / "vae-report"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", code, "{connection_file}"],
        "display_name": "fake", "language": "python"}))
    return {"JUPYTER_PATH": str(tmp_path / "jupyter")}


def test_kernels_started_together_never_collide(notebook, tmp_path):
    # sized for CI: 8 notebooks at once, 5 rounds (over TCP 3 of 480 such starts failed)
    rounds, width = 5, 8
    failures = []
    for r in range(rounds):
        with ThreadPoolExecutor(width) as pool:
            runs = list(pool.map(lambda i: _run(notebook, tmp_path / f"r{r}" / f"{i}.ipynb",
                                                "-p", "n", str(i)), range(width)))
        failures += [run.stdout + run.stderr for run in runs if run.returncode != 0]
        for i in range(width):
            cells = nbformat.read(tmp_path / f"r{r}" / f"{i}.ipynb", as_version=4).cells
            assert cells[-1].outputs[0]["text"] == f"ran {i}\n"
    assert failures == [], failures[0]
    logs = "".join(p.read_text() for p in tmp_path.rglob("*.log"))
    assert "without encryption" not in logs and "retry" not in logs


def test_a_kernel_that_dies_at_start_is_retried_once_then_one_failed_line(notebook, tmp_path):
    out = tmp_path / "out" / "dies.ipynb"
    start = time.time()
    run = _run(notebook, out, "--label", "dying", env=_fake_kernel(tmp_path, "raise SystemExit(3)"))
    assert run.returncode == 1
    lines = [l for l in (run.stdout + run.stderr).splitlines() if l.strip()]
    assert len([l for l in lines if " retry dying" in l]) == 1
    failed = [l for l in lines if " FAILED dying" in l]
    assert len(failed) == 1 and "kernel failed 2 times" in failed[0] and "died" in failed[0]
    assert "Traceback" not in run.stdout + run.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["dies.log"]   # no partial notebook
    assert time.time() - start < 120


def test_a_kernel_that_never_answers_is_killed_within_the_bound(notebook, tmp_path):
    marker = f"silent-kernel-{os.getpid()}"
    code = f"import time; time.sleep(600)  # {marker}"
    out = tmp_path / "out" / "silent.ipynb"
    start = time.time()
    run = _run(notebook, out, "--label", "silent", "--kernel-timeout", "5",
               env=_fake_kernel(tmp_path, code))
    took = time.time() - start
    assert run.returncode == 1
    failed = [l for l in run.stdout.splitlines() + run.stderr.splitlines() if "FAILED silent" in l]
    assert len(failed) == 1 and "respond" in failed[0], run.stdout + run.stderr
    assert took < 2 * 5 + 40, took                     # two bounded starts and their clean-up
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    assert left == "", f"the silent kernel still runs: {left}"
    assert sorted(p.name for p in out.parent.iterdir()) == ["silent.log"]
