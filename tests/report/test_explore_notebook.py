"""notebooks/explore.ipynb executes headless on a rendered study's models — the quick profile's
(`make test-report`), or with REPORT_DIR the committed study's published weights — with static
figures and with its widgets, shows every view, and writes nothing under reports/."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(os.environ.get("REPORT_DIR") or ROOT / "reports" / "quick")
PROFILE = OUT.name


def _model() -> str:
    from vae_report.explore import models

    trained = [s for s in models.available(PROFILE) if s.startswith(f"{PROFILE}/retrained/")]
    if not trained:
        pytest.skip(f"no trained or published model of profile {PROFILE!r} here")
    return next((s for s in trained if s.endswith("/deep-256")), trained[0])


def _reports_listing() -> set[str]:
    return {str(p.relative_to(ROOT)) for p in (ROOT / "reports").rglob("*")}


@pytest.mark.parametrize("interactive", [False, True])
def test_the_exploration_notebook_runs_headless(tmp_path, interactive):
    model = _model()
    before = _reports_listing()
    out = tmp_path / "explore.ipynb"
    run = subprocess.run(
        [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "explore.ipynb"), str(out),
         "-p", "model", model, "-p", "interactive", str(interactive), "-p", "device", "cpu",
         "--cwd", str(ROOT / "notebooks"), "--no-progress-bar"],
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _reports_listing() == before, "the notebook wrote under reports/"
    outputs = [o for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    pictures = [o for o in outputs if "image/png" in o.get("data", {})]
    widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    # interpolation, traversal, latent map, compare, your digit; the chain as 4 frames or a widget
    assert len(pictures) >= (5 if interactive else 9), len(pictures)
    assert len(widgets) == (2 if interactive else 0)
    text = "".join("".join(o.get("text", "")) for o in outputs if o["output_type"] == "stream")
    assert model in text and "converted to greyscale" in text
