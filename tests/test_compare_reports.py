"""scripts/compare_reports.py: the check that a refactor changed no number."""
import json
import subprocess
import sys

import numpy as np

from conftest import ROOT


def _tree(root, elbo, seconds, pixel=0):
    cell = root / "original" / "seed-0" / "vanilla"
    cell.mkdir(parents=True)
    (cell / "02-elbo.json").write_text(json.dumps(
        {"test_elbo": elbo, "iwae_curve": {"1": elbo}, "provenance": {"git_commit": str(seconds)}}))
    (cell / "history.csv").write_text(f"epoch,train_elbo,seconds\n1,{elbo},{seconds}\n")
    np.save(cell / "samples.npy", np.full((2, 28, 28), pixel, dtype=np.uint8))
    return root


def _compare(a, b):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "compare_reports.py"), str(a),
                           str(b)], capture_output=True, text=True)


def test_timings_and_provenance_do_not_count(tmp_path):
    out = _compare(_tree(tmp_path / "a", -800.5, 1.0), _tree(tmp_path / "b", -800.5, 9.0))
    assert out.returncode == 0, out.stdout
    assert "3 files compared, 0 difference(s)" in out.stdout


def test_a_changed_number_is_reported(tmp_path):
    out = _compare(_tree(tmp_path / "a", -800.5, 1.0), _tree(tmp_path / "b", -800.25, 1.0, pixel=3))
    assert out.returncode == 1
    assert "02-elbo.json: 2 value(s) differ" in out.stdout
    assert "history.csv: column train_elbo differs by up to 0.25" in out.stdout
    assert "samples.npy: differs by up to 3" in out.stdout
