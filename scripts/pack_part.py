"""Carry a part of the study from one sitting to the next: pack the outputs a part made, restore
them in a fresh clone so that Snakemake counts them as done.

The full study is hours of training (docs/performance.md); on machines that lose their files
between sittings it is made in parts with Snakemake's own ``--batch`` (docs/maintainers.md):

    make cells SNAKEMAKE_ARGS="--batch cells=1/4"            # sitting 1: a quarter of the cells
    python scripts/pack_part.py pack /storage/full-1.tar      # its outputs, with a manifest
    # sitting 2, a fresh clone of the same commit, after `make setup`:
    python scripts/pack_part.py restore /storage/full-1.tar  # checked, then in place
    make cells SNAKEMAKE_ARGS="--batch cells=2/4"             # … and so on, then `make report`

``pack`` takes every finished file under ``checkpoints/<profile>/`` and ``reports/<profile>/``
(never a ``.partial``/``.failed`` file or an in-progress checkpoint) and writes a tar whose
``MANIFEST.json`` names the commit, each file's SHA-256, size and modification time.
``restore`` checks every file against the manifest before anything is written, refuses to
overwrite a different file that is already there (``--force`` replaces it), and then sets the
restored files' modification times to now, keeping their order: a fresh clone's code files are
newer than the part's outputs, and Snakemake would otherwise retrain everything.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

MANIFEST = "MANIFEST.json"
#: What a job leaves while it runs or after it failed: never part of a finished part.
UNFINISHED = (".partial.", ".failed.", ".partial.ipynb", ".failed.ipynb")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _commit(root: Path) -> str:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def part_files(root: Path, profile: str) -> list[Path]:
    """The finished outputs of ``profile`` under ``root``, oldest first (the order the workflow
    made them in: a checkpoint before the notebooks that read it)."""
    found = [p for folder in (root / "checkpoints" / profile, root / "reports" / profile)
             if folder.is_dir() for p in folder.rglob("*")
             if p.is_file() and not any(mark in p.name for mark in UNFINISHED)]
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, str(p)))


def pack(archive: Path, root: Path, profile: str) -> dict:
    """Write ``archive`` (a tar) of :func:`part_files` with its manifest; returns the manifest."""
    files = part_files(root, profile)
    if not files:
        raise SystemExit(f"error: nothing to pack: no finished file under checkpoints/{profile}/ "
                         f"or reports/{profile}/ in {root}; run a part first (make cells "
                         f"PROFILE={profile} SNAKEMAKE_ARGS=\"--batch cells=1/4\")")
    manifest = {"profile": profile, "commit": _commit(root), "packed": time.strftime("%Y-%m-%d %H:%M:%S"),
                "files": [{"path": str(p.relative_to(root)), "sha256": _sha256(p),
                           "bytes": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns} for p in files]}
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(f".{archive.name}.partial")
    with tarfile.open(partial, "w") as tar:
        data = json.dumps(manifest, indent=1).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for entry in manifest["files"]:
            tar.add(root / entry["path"], arcname=entry["path"])
    os.replace(partial, archive)             # a killed pack leaves no archive that looks whole
    return manifest


def _read_manifest(tar: tarfile.TarFile, archive: Path) -> dict:
    try:
        return json.load(tar.extractfile(MANIFEST))
    except (KeyError, json.JSONDecodeError, TypeError):
        raise SystemExit(f"error: {archive} has no readable {MANIFEST}: it was not made by "
                         f"`scripts/pack_part.py pack`, or it is damaged; pack the part again")


def restore(archive: Path, root: Path, force: bool = False) -> list[Path]:
    """Check every file of ``archive`` against its manifest, then extract them under ``root``
    with fresh modification times in their packed order. Returns the restored paths."""
    try:
        tar = tarfile.open(archive)
    except (OSError, tarfile.TarError) as exc:
        raise SystemExit(f"error: cannot read {archive} ({exc}); pack the part again")
    with tar:
        manifest = _read_manifest(tar, archive)
        contents: dict[str, bytes] = {}
        for entry in manifest["files"]:
            path = entry["path"]
            if Path(path).is_absolute() or ".." in Path(path).parts:
                raise SystemExit(f"error: {archive} names {path!r}, outside the project: refused")
            member = tar.extractfile(path) if path in tar.getnames() else None
            data = member.read() if member else None
            if data is None or hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise SystemExit(f"error: {archive}: {path} is missing or damaged (its SHA-256 "
                                 f"differs from the manifest); nothing was restored. Pack the "
                                 f"part again from the sitting that made it")
            target = root / path
            if target.exists() and not force and _sha256(target) != entry["sha256"]:
                raise SystemExit(f"error: {target} exists and differs from the part's; nothing "
                                 f"was restored. Move it away, or pass --force to replace it")
            contents[path] = data
    if manifest["commit"] != _commit(root):
        print(f"note: the part was made at commit {manifest['commit'][:12]}, this clone is at "
              f"{_commit(root)[:12]}: its cells' numbers are that commit's", file=sys.stderr)
    now = time.time_ns()
    restored = []
    for rank, entry in enumerate(manifest["files"]):       # packed oldest first
        target = root / entry["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.restoring")
        partial.write_bytes(contents[entry["path"]])
        os.replace(partial, target)
        stamp = now + rank * 1_000_000                    # 1 ms apart: the workflow's order kept
        os.utime(target, ns=(stamp, stamp))
        restored.append(target)
    return restored


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="pack the finished outputs of a profile")
    p.add_argument("archive", type=Path)
    p.add_argument("--profile", default="full")
    r = sub.add_parser("restore", help="check and restore a packed part")
    r.add_argument("archive", type=Path)
    r.add_argument("--force", action="store_true", help="replace files that differ")
    sub.add_parser("list", help="what a packed part holds").add_argument("archive", type=Path)
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1],
                    help="the project folder (default: this checkout)")
    args = ap.parse_args(argv)
    if args.command == "pack":
        manifest = pack(args.archive, args.root, args.profile)
        total = sum(e["bytes"] for e in manifest["files"])
        print(f"packed {len(manifest['files'])} files ({total / 2**20:.1f} MiB) of "
              f"{args.profile} at {manifest['commit'][:12]} into {args.archive}")
    elif args.command == "restore":
        restored = restore(args.archive, args.root, args.force)
        print(f"restored {len(restored)} files from {args.archive}")
    else:
        with tarfile.open(args.archive) as tar:
            manifest = _read_manifest(tar, args.archive)
        for e in manifest["files"]:
            print(f"{e['bytes']:>12}  {e['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
