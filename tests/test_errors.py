"""Errors that point the right way: each names the file or value at fault and a fix that works
(issue 34 §3). Quick: no training, no notebook."""
import shutil
import subprocess
from pathlib import Path

import pytest

from vae_report import layout
from vae_report.train import checkpoints
from vae_report.explore import models
from vae_report.report import gather
from vae_report.workflow import selection
from vae_report.errors import DataError, ParameterError
from vae_report.param_files import read_yaml

ROOT = Path(__file__).resolve().parents[1]
CELL = ROOT / "reports" / "full" / "original" / "seed-0" / "vanilla"


def test_a_key_set_twice_in_a_parameter_file_is_refused(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("epochs: 2\nlr: 3.0e-4\nepochs: 3\n")
    with pytest.raises(ParameterError, match=r"line 3.*'epochs' is set twice \(first on line 1\)"):
        read_yaml(path)
    path.write_text("epochs: 2\nlr: 3.0e-4\n")
    assert read_yaml(path) == {"epochs": 2, "lr": 3.0e-4}


def test_a_selection_names_the_valid_choices_and_the_likely_one():
    with pytest.raises(ParameterError, match=r"PROFILE='ful' .* did you mean 'full'\?"):
        selection.check_selection("ful", ["original"], ["vanilla"])
    with pytest.raises(ParameterError, match=r"'retrianed' is not one of .* did you mean 'retrained'\?"):
        selection.check_selection("full", ["retrianed"], ["vanilla"])
    with pytest.raises(ParameterError, match="RUNS names retrained more than once"):
        selection.check_selection("full", ["retrained", "retrained"], ["vanilla"])
    with pytest.raises(ParameterError, match="ARCHS is empty"):
        selection.check_selection("full", ["retrained"], [])
    selection.check_selection("full", ["retrained"], ["vanilla"])     # a good one passes


@pytest.mark.slow
@pytest.mark.parametrize("variable", ["ARCHS", "RUNS"])
def test_make_refuses_a_blank_selection_instead_of_running_everything(variable):
    done = subprocess.run(["make", "-n", "dry-run", f"{variable}= "], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode != 0 and f"{variable} is empty" in done.stderr


def test_the_report_loader_names_a_misspelt_profile_or_run():
    with pytest.raises(ParameterError, match="did you mean 'full'"):
        gather.load_study("ful")
    with pytest.raises(ParameterError, match="did you mean 'retrained'"):
        gather.load_study("full", runs=["retrianed"])


@pytest.fixture
def cell(tmp_path):
    """A copy of a committed cell in a scratch reports folder (untracked by git)."""
    folder = layout.cell_dir("full", "original", 0, "vanilla", tmp_path)
    shutil.copytree(CELL, folder)
    return tmp_path, folder


@pytest.mark.parametrize("name", ["02-elbo.json", "samples.npy", "history.csv"])
def test_a_cell_file_cut_short_is_named_with_its_repair(cell, name):
    reports, folder = cell
    path = folder / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError) as err:
        gather.load_cell("full", "original", "vanilla", str(reports), seed=0)
    assert str(path) in str(err.value) and "make cells PROFILE=full" in str(err.value)


def test_a_learning_curve_shorter_than_its_training_is_refused(cell):
    reports, folder = cell
    history = folder / "history.csv"
    lines = history.read_text().splitlines()
    history.write_text("\n".join(lines[:3]) + "\n")            # header + 2 of 100 epochs
    with pytest.raises(DataError, match=r"holds 2 epoch\(s\) where its training ran 100"):
        gather.load_cell("full", "original", "vanilla", str(reports), seed=0)


def test_a_damaged_committed_file_is_restored_from_git_not_deleted():
    tracked = ROOT / "reports" / "full" / "original" / "seed-0" / "vanilla" / "02-elbo.json"
    assert "git checkout -- reports/full/original/seed-0/vanilla/02-elbo.json" in gather._repair(
        tracked, "full")
    published = layout.published_model_path("full", "original", 0, "vanilla")
    assert "git checkout --" in checkpoints.repair_advice(published)
    assert "retrain" in checkpoints.repair_advice(layout.checkpoint_path("full", "original", 0, "vanilla"))


@pytest.mark.parametrize("spec,says", [("README.md", "not a model file (.pt)"),
                                       ("reports/full", "a folder")])
def test_exploring_something_that_is_not_a_model_says_so(spec, says):
    with pytest.raises(models.ExploreError) as err:
        models.resolve(str(ROOT / spec))
    text = str(err.value)
    assert says in text and "<profile>/<run>/seed-<n>/<arch>" in text
    assert "delete" not in text and "make report" not in text


def test_an_unwritable_folder_is_named_with_the_fix(tmp_path, monkeypatch):
    """torch says only "Permission denied"; the error names the file and what to do. (Root
    writes anywhere, so the refusal is simulated where the OS would raise it.)"""
    import torch

    from vae_report import files

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(torch, "save", refuse)
    target = tmp_path / "ckpt" / "vanilla.pt"
    with pytest.raises(DataError, match=r"cannot write .*vanilla\.pt: Permission denied; make .*ckpt writable"):
        files.atomic_torch_save({"a": 1}, target)
    assert not list((tmp_path / "ckpt").iterdir())                # no temporary file left
    monkeypatch.setattr(Path, "write_bytes", refuse)
    with pytest.raises(DataError, match=r"cannot write .*m\.json"):
        files.atomic_write_bytes(tmp_path / "m.json", b"{}")
