"""`make lab` starts JupyterLab — as root too — serving the project's kernel; stopped by its
process id."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

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
    finally:
        os.killpg(lab.pid, signal.SIGTERM)             # make and JupyterLab: its process group
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
    assert _kernelspecs(port) is None                    # stopped: the port no longer answers
