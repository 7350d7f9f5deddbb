"""scripts/pack_part.py: a part of the study made in one sitting, packed with a manifest and
restored in a fresh clone — checked before anything is written, newer than the clone's code."""
import importlib.util
import io
import os
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pack_part():
    spec = importlib.util.spec_from_file_location("pack_part", ROOT / "scripts" / "pack_part.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sitting(root: Path) -> list[Path]:
    """What a part leaves: a checkpoint, then the notebooks and metrics made from it, and the
    files a run in progress or a failed job leaves, which are not part of it."""
    made = []
    for i, rel in enumerate(["checkpoints/full/original/seed-0/vanilla.pt",
                             "reports/full/original/seed-0/vanilla/01-train.ipynb",
                             "reports/full/original/seed-0/vanilla/02-elbo.json"]):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"{rel} {i}".encode())
        os.utime(path, (1_000_000 + i, 1_000_000 + i))          # made in this order
        made.append(path)
    for rel in ["checkpoints/full/original/seed-1/vanilla.partial.pt",
                "reports/full/original/seed-1/vanilla/.02-elbo.partial.ipynb",
                "reports/full/original/seed-1/vanilla/02-elbo.failed.ipynb"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"unfinished")
    return made


def test_a_part_restores_in_a_fresh_clone_newer_than_its_code_in_its_order(pack_part, tmp_path):
    sitting, clone = tmp_path / "sitting", tmp_path / "clone"
    made = _sitting(sitting)
    archive = tmp_path / "store" / "full-1.tar"
    manifest = pack_part.pack(archive, sitting, "full")
    assert [e["path"] for e in manifest["files"]] == [str(p.relative_to(sitting)) for p in made]
    clone.mkdir()
    code = clone / "vae_core.py"
    code.write_text("checked out now")
    restored = pack_part.restore(archive, clone)
    assert [p.read_bytes() for p in restored] == [p.read_bytes() for p in made]
    stamps = [p.stat().st_mtime_ns for p in restored]
    assert stamps == sorted(stamps) and stamps[0] >= code.stat().st_mtime_ns
    assert not any("partial" in p.name or "failed" in p.name for p in clone.rglob("*"))
    assert pack_part.restore(archive, clone) == restored            # the same files again: fine


def test_a_damaged_part_or_a_different_file_restores_nothing(pack_part, tmp_path):
    sitting, clone = tmp_path / "sitting", tmp_path / "clone"
    made = _sitting(sitting)
    archive = tmp_path / "full-1.tar"
    pack_part.pack(archive, sitting, "full")
    # a different file where the part has one: refused, nothing written, --force replaces it
    clone_ckpt = clone / made[0].relative_to(sitting)
    clone_ckpt.parent.mkdir(parents=True)
    clone_ckpt.write_bytes(b"another training")
    with pytest.raises(SystemExit, match="exists and differs.*--force"):
        pack_part.restore(archive, clone)
    assert sorted(p.name for p in clone.rglob("*") if p.is_file()) == ["vanilla.pt"]
    assert len(pack_part.restore(archive, clone, force=True)) == 3
    # a member whose bytes differ from the manifest's SHA-256
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(archive) as src, tarfile.open(damaged, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name.endswith("02-elbo.json"):
                data = data[:-1] + b"X"
            dst.addfile(member, io.BytesIO(data))
    with pytest.raises(SystemExit, match="02-elbo.json is missing or damaged.*nothing was restored"):
        pack_part.restore(damaged, tmp_path / "other")
    assert not (tmp_path / "other").exists()
    with pytest.raises(SystemExit, match="nothing to pack"):
        pack_part.pack(tmp_path / "empty.tar", tmp_path / "nothing", "full")
    (tmp_path / "not-a-tar").write_text("hello")
    with pytest.raises(SystemExit, match="cannot read"):
        pack_part.restore(tmp_path / "not-a-tar", clone)
