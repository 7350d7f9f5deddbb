"""`make lab` starts JupyterLab — as root too — serving the project's kernel, and saving the
project's notebooks without outputs; stopped by its process id."""
from __future__ import annotations

import pytest

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

# starts JupyterLab, Snakemake, papermill or git: `make test-fast` leaves it out
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "lab-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kernelspecs(port: int) -> dict | None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/kernelspecs",
                                     headers={"Authorization": f"token {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.loads(answer.read())
    except OSError:
        return None


def _api(port: int, path: str, method: str = "GET", body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/contents/{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def _saved_with_outputs(port: int, path: str, new_code: str | None = None) -> None:
    """Save ``path`` through the server as JupyterLab's autosave does: with outputs, widget
    state and the metadata JupyterLab adds (and, optionally, a changed first code cell)."""
    nb = _api(port, path)["content"]
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * 1000}]
            cell["execution_count"] = 7
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb["metadata"].setdefault("language_info", {})["version"] = "3.11.2"
    if new_code is not None:
        next(c for c in nb["cells"] if c["cell_type"] == "code")["source"] = new_code
    _api(port, path, "PUT", {"type": "notebook", "format": "json", "content": nb})


def _check_saves_change_nothing_but_code(port: int) -> None:
    """Issue 34: exploring saves no outputs into the project's notebooks, and a save with only
    outputs leaves the file as it was (git clean, the workflow plans nothing)."""
    explore = ROOT / "notebooks" / "explore.ipynb"

    def status() -> str:
        return subprocess.run(["git", "status", "--porcelain", "--", "notebooks"], cwd=ROOT,
                              capture_output=True, text=True).stdout

    before, stamp, git_before = explore.read_bytes(), explore.stat().st_mtime_ns, status()
    _saved_with_outputs(port, "notebooks/explore.ipynb")
    assert explore.read_bytes() == before and explore.stat().st_mtime_ns == stamp
    assert status() == git_before
    # a changed cell is saved — without outputs, under the file's own metadata
    scratch = ROOT / "notebooks" / "_lab_save_test.ipynb"
    scratch.write_bytes(before)
    try:
        _saved_with_outputs(port, "notebooks/_lab_save_test.ipynb", new_code="print('edited')\n")
        saved = json.loads(scratch.read_text())
        assert any(c["source"] in ("print('edited')\n", ["print('edited')\n"]) for c in saved["cells"])
        assert all(not c.get("outputs") for c in saved["cells"] if c["cell_type"] == "code")
        assert "widgets" not in saved["metadata"]
        assert saved["metadata"] == json.loads(before)["metadata"]
    finally:
        scratch.unlink(missing_ok=True)


def test_make_lab_starts_and_serves_the_project_kernel(tmp_path):
    port = _free_port()
    args = (f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={TOKEN} "
            f"--ServerApp.port_retries=0")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = (tmp_path / "lab.log").open("w")
    lab = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], cwd=ROOT,
                           env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        specs = None
        deadline = time.time() + 120
        while specs is None and time.time() < deadline and lab.poll() is None:
            time.sleep(1)
            specs = _kernelspecs(port)
        output = (tmp_path / "lab.log").read_text()
        assert specs is not None, f"JupyterLab did not answer (exit {lab.poll()}):\n{output[-3000:]}"
        assert "vae-report" in specs["kernelspecs"], sorted(specs["kernelspecs"])
        assert "Running as root is not recommended" not in output
        _check_saves_change_nothing_but_code(port)
    finally:
        os.killpg(lab.pid, signal.SIGTERM)             # make and JupyterLab: its process group
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
    assert _kernelspecs(port) is None                    # stopped: the port no longer answers
