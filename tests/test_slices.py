"""A study built in slices (vae_report.slices): pack what git keeps of the evaluated cells,
restore the classifier in a new clone, assemble only a whole study from one commit."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from vae_report import layout, slices

# starts JupyterLab, Snakemake, papermill or git: `make test-fast` leaves it out
pytestmark = pytest.mark.slow

CELLS = [("original", 0, "vanilla"), ("original", 1, "vanilla"), ("retrained", 0, "vanilla")]


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def clone(tmp_path, monkeypatch):
    """A git clone with the project's .gitignore and a study of three cells."""
    root = tmp_path / "clone"
    root.mkdir()
    shutil.copy(layout.PROJECT_ROOT / ".gitignore", root / ".gitignore")
    (root / "code.py").write_text("x = 1\n")
    old = root / "reports" / "full" / "original" / "seed-0" / "old-arch"
    old.mkdir(parents=True)
    (old / "01-train.json").write_text("{}")              # a committed cell of an older study
    _git(root, "init", "-q")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "study")
    monkeypatch.setattr(slices, "study_cells", lambda profile: list(CELLS))
    return root


def _evaluate(root: Path, cell, commit: str | None = None) -> Path:
    """What the workflow leaves of one evaluated cell: kept JSON and history, ignored notebooks
    and PNGs (a later seed's), and its checkpoint."""
    commit = commit or _git(root, "rev-parse", "HEAD")
    folder = layout.cell_dir("full", *cell, reports_dir=root / "reports")
    folder.mkdir(parents=True, exist_ok=True)
    for step in layout.CELL_STEPS:
        (folder / f"{step}.ipynb").write_text("{}")
        (folder / f"{step}.json").write_text(json.dumps({"provenance": {"git_commit": commit},
                                                         "value": cell[1]}))
    (folder / "history.csv").write_text("epoch\n1\n")
    (folder / "curves.png").write_bytes(b"png")
    ckpt = layout.checkpoint_path("full", *cell, checkpoints_dir=root / "checkpoints")
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    ckpt.write_bytes(b"weights")
    return folder


def _classifier(root: Path) -> None:
    folder = layout.classifier_dir("full", root / "reports")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "classifier.json").write_text('{"accuracy": 0.99}')
    layout.classifier_notebook("full", root / "reports").write_text("{}")
    weights = layout.classifier_path("full", root / "checkpoints")
    weights.parent.mkdir(parents=True, exist_ok=True)
    weights.write_bytes(b"classifier")


def _members(archive: Path) -> set[str]:
    with tarfile.open(archive) as tar:
        return set(tar.getnames())


def test_pack_takes_what_git_keeps_of_evaluated_cells_and_the_classifier_once(clone):
    _classifier(clone)
    _evaluate(clone, CELLS[0])
    published = layout.published_model_path("full", *CELLS[0], reports_dir=clone / "reports")
    published.parent.mkdir(parents=True)
    published.write_bytes(b"seed 0's weights")
    first = slices.pack("full", "one", clone)
    names = _members(first)
    assert str(published.relative_to(clone)) in names
    cell = "reports/full/original/seed-0/vanilla"
    assert {f"{cell}/{s}.json" for s in layout.CELL_STEPS} | {f"{cell}/history.csv"} <= names
    assert not any(n.endswith((".ipynb", ".png")) for n in names if n.startswith(cell)), names
    assert {"reports/full/classifier/classifier.json", "checkpoints/full/classifier.pt",
            "reports/full/classifier/00-classifier.ipynb", slices.MANIFEST} <= names
    assert slices.packed_cells("full", clone) == {CELLS[0]: "one.tar.xz"}

    with pytest.raises(SystemExit, match="no evaluated cell"):      # nothing new to pack
        slices.pack("full", "two", clone)
    _evaluate(clone, CELLS[1])
    second = slices.pack("full", "two", clone)
    assert not any("classifier" in n for n in _members(second))
    assert str(published.relative_to(clone)) not in _members(second)   # held as it is by "one"
    _evaluate(clone, CELLS[2])
    published.write_bytes(b"seed 0's weights, published again")
    assert str(published.relative_to(clone)) in _members(slices.pack("full", "three", clone))
    assert slices.missing("full", clone) == []


def test_assemble_waits_for_every_cell_then_replaces_the_committed_ones(clone):
    _classifier(clone)
    _evaluate(clone, CELLS[0])
    slices.pack("full", "one", clone)
    with pytest.raises(SystemExit, match=r"lack 2 cells .*original/seed-1/vanilla"):
        slices.assemble("full", clone)
    _evaluate(clone, CELLS[1])
    _evaluate(clone, CELLS[2])
    slices.pack("full", "two", clone)

    # a new clone of the same commit holds only the committed files and the archives
    fresh = clone.parent / "fresh"
    _git(clone.parent, "clone", "-q", str(clone), str(fresh))
    shutil.copytree(slices.slices_dir("full", clone), slices.slices_dir("full", fresh))
    assert slices.assemble("full", fresh) == CELLS
    reports = fresh / "reports" / "full"
    assert not (reports / "original" / "seed-0" / "old-arch").exists()   # the older study's cell
    got = json.loads((reports / "original" / "seed-1" / "vanilla" / "02-elbo.json").read_text())
    assert got["value"] == 1
    assert (reports / "classifier" / "classifier.json").exists()


def test_a_slice_from_another_commit_or_a_dirty_clone_is_refused(clone):
    _classifier(clone)
    _evaluate(clone, CELLS[0])
    slices.pack("full", "one", clone)
    (clone / "code.py").write_text("x = 2\n")
    with pytest.raises(SystemExit, match="uncommitted changes .*code.py"):
        slices.pack("full", "two", clone)
    _git(clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "later code")
    _evaluate(clone, CELLS[1])
    with pytest.raises(SystemExit, match="slices so far were made at .*git checkout"):
        slices.pack("full", "two", clone)


def test_assemble_checks_the_cells_own_provenance(clone):
    _classifier(clone)
    for cell in CELLS:
        _evaluate(clone, cell, commit="0" * 40 if cell == CELLS[2] else None)
    slices.pack("full", "all", clone)
    with pytest.raises(SystemExit, match="provenance names commits"):
        slices.assemble("full", clone)


def test_restore_puts_the_classifier_in_place_newer_than_its_notebook(clone):
    _classifier(clone)
    _evaluate(clone, CELLS[0])
    slices.pack("full", "one", clone)
    fresh = clone.parent / "fresh"
    _git(clone.parent, "clone", "-q", str(clone), str(fresh))
    shutil.copytree(slices.slices_dir("full", clone), slices.slices_dir("full", fresh))
    restored = slices.restore("full", fresh)
    weights = layout.classifier_path("full", fresh / "checkpoints")
    notebook = layout.classifier_notebook("full", fresh / "reports")
    assert weights in restored and weights.read_bytes() == b"classifier"
    assert os.path.getmtime(weights) > os.path.getmtime(notebook) > os.path.getmtime(fresh / "code.py")


def test_a_damaged_archive_is_named(clone):
    _classifier(clone)
    _evaluate(clone, CELLS[0])
    archive = slices.pack("full", "one", clone)
    with tarfile.open(archive) as tar:                   # rewrite one member's bytes
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    members["reports/full/original/seed-0/vanilla/02-elbo.json"] = b"{}"
    with tarfile.open(archive, "w:xz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(SystemExit, match="02-elbo.json in one.tar.xz does not match"):
        slices._extract(archive, clone)


def test_evaluation_runs_the_snakefiles_rules_but_training():
    import re

    workflow_dir = layout.PROJECT_ROOT / "workflow"
    text = "\n".join(p.read_text() for p in [workflow_dir / "Snakefile",
                                              *sorted((workflow_dir / "rules").glob("*.smk"))])
    rules = set(re.findall(r"^rule (\w+):", text, re.M))
    assert set(slices.EVALUATION_RULES) <= rules
    assert {"classifier", "step", "train", "publish_model"} <= set(slices.EVALUATION_RULES)
    assert not any(r.startswith("train_") for r in slices.EVALUATION_RULES)   # training's rules


def test_training_jobs_cover_the_missing_untrained_cells_stacked_where_a_cpu_stacks(clone, monkeypatch):
    cells = CELLS + [("original", 0, "deep-512"), ("original", 1, "deep-512")]
    monkeypatch.setattr(slices, "study_cells", lambda profile: list(cells))
    _evaluate(clone, CELLS[2])                              # trained here: no job
    jobs = slices.training_jobs("full", clone)
    # vanilla's seeds stack on a CPU (one job), deep-512's do not (one a seed, seed 0 first)
    assert jobs == [
        ".venv/bin/python scripts/train_seeds.py --profile full --run original --arch deep-512 "
        "-p seeds '[0]' --quiet",
        ".venv/bin/python scripts/train_seeds.py --profile full --run original --arch vanilla "
        "-p seeds '[0, 1]' --quiet",
        ".venv/bin/python scripts/train_seeds.py --profile full --run original --arch deep-512 "
        "-p seeds '[1]' --quiet"]
    _classifier(clone)
    slices.pack("full", "one", clone)
    shutil.rmtree(clone / "checkpoints")                   # a new sitting: packed, not trained
    assert all("retrained" not in j for j in slices.training_jobs("full", clone))


def test_a_profile_git_ignores_is_refused(clone, monkeypatch):
    folder = _evaluate(clone, CELLS[0])
    (clone / ".gitignore").write_text((clone / ".gitignore").read_text() + f"\n/{folder.relative_to(clone)}/\n")
    _git(clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "ignore it")
    _classifier(clone)
    with pytest.raises(SystemExit, match="git ignores every output"):
        slices.pack("full", "one", clone)


def test_fetch_reads_archives_back_from_history_once_out_of_the_tree(clone, tmp_path):
    """An archive committed (git ignores reports/slices/, so `add -f`) and then taken out of the
    tree comes back from history, byte for byte, into another clone's slices folder."""
    git = ("-c", "user.name=t", "-c", "user.email=t@t")
    _classifier(clone)
    _evaluate(clone, CELLS[0])
    archive = slices.pack("full", "one", clone)
    data = archive.read_bytes()
    _git(clone, *git, "add", "-f", str(archive))
    _git(clone, *git, "commit", "-qm", "slice one")
    _git(clone, *git, "rm", "-q", "--cached", str(archive))
    _git(clone, *git, "commit", "-qm", "slice one kept in history")
    assert _git(clone, "ls-files", "reports/slices") == ""
    other = tmp_path / "other"
    _git(tmp_path, "clone", "-q", str(clone), str(other))
    assert slices.fetch("full", other, store=clone) == [slices.slices_dir("full", other) / "one.tar.xz"]
    assert (slices.slices_dir("full", other) / "one.tar.xz").read_bytes() == data
    assert slices.packed_cells("full", other) == {CELLS[0]: "one.tar.xz"}
    assert slices.fetch("full", other, store=clone) == []           # already there: kept
