"""The report reads each run's parameters and seeds from what its cells were executed with."""
import json

from vae_report import layout
from vae_report.report import gather
from vae_report.workflow import selection


def _first_cell(tmp_path, seeds):
    folder = layout.cell_dir("quick", "original", 0, "vanilla", tmp_path)
    folder.mkdir(parents=True)
    params = {"seeds": seeds, "epochs": 7, "arch": "vanilla", "seed": 0, "reports_dir": "elsewhere"}
    (folder / "01-train.json").write_text(json.dumps({"provenance": {"params": params}}))


def test_cells_run_with_other_seeds_than_the_files_list_are_shown_as_run_with_a_note(tmp_path):
    _first_cell(tmp_path, [0])
    params, note = gather._run_parameters("quick", "original", "vanilla", str(tmp_path))
    assert params["seeds"] == [0] and params["epochs"] == 7          # as the cells were run
    assert "reports_dir" not in params or params["reports_dir"] != "elsewhere"   # per cell: not the run's
    files = selection.run_seeds("original", "quick")
    assert note is not None and f"now lists {files}" in note and "executed with seeds [0]" in note


def test_cells_run_with_the_files_seeds_need_no_note(tmp_path):
    _first_cell(tmp_path, selection.run_seeds("original", "quick"))
    params, note = gather._run_parameters("quick", "original", "vanilla", str(tmp_path))
    assert note is None and params["seeds"] == selection.run_seeds("original", "quick")
    # no cells yet: the parameter files
    params, note = gather._run_parameters("quick", "retrained", "vanilla", str(tmp_path))
    assert note is None and params["seeds"] == selection.run_seeds("retrained", "quick")
