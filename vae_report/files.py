"""Writing files so that a kill mid-write never leaves a half file under the final name, and
what to say when a file turns out damaged."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Callable

import torch


def _temporary_name(path: Path) -> Path:
    # hidden and per process: two writers never share it, and globs of outputs never see it
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def _unwritable(path: Path, exc: OSError) -> Exception:
    """A DataError naming the file that could not be written and the fix (torch and the OS name
    neither: "Permission denied" and no path)."""
    from vae_report.errors import DataError

    return DataError(f"cannot write {path}: {exc.strerror or exc}; make {path.parent} writable "
                     f"(or point checkpoints_dir / reports_dir at a folder you can write)")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    tmp = _temporary_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except PermissionError as exc:
        tmp.unlink(missing_ok=True)
        raise _unwritable(path, exc) from exc


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file, then rename: a kill mid-write leaves the old file, and
    no temporary file (removed on any failure, Ctrl-C included)."""
    path = Path(path)
    tmp = _temporary_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except PermissionError as exc:
        tmp.unlink(missing_ok=True)
        raise _unwritable(path, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def torch_file_problem(path: str | os.PathLike) -> str | None:
    """Why the ``torch.save`` file at ``path`` cannot be loaded — truncated, not a zip archive
    — or None when its archive is whole. Cheap: reads the zip's directory at the file's end
    (where a truncated file is missing it), not the tensors."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            if not any(name.endswith("data.pkl") for name in archive.namelist()):
                return "not a torch.save archive (no data.pkl)"
    except (zipfile.BadZipFile, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def json_text(obj: Any, level: int = 0) -> str:
    """``obj`` as JSON with sorted keys, objects indented by two spaces and every list of
    scalars on one line. ``json.dumps(indent=2)`` puts each number on a line of its own: a chain's
    16 × 101 frame values became 1,616 lines, and the study's 05-chain.json files a quarter of the
    tracked tree. ``json.loads`` reads back exactly what ``json.dumps`` would have written."""
    pad = "  " * level
    if isinstance(obj, dict) and obj:
        keys = sorted(obj)                      # as sort_keys=True: mixed key types raise
        items = [f"{pad}  {json.dumps(_json_key(k))}: {json_text(obj[k], level + 1)}" for k in keys]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(obj, (list, tuple)) and any(isinstance(x, (dict, list, tuple)) for x in obj):
        items = [f"{pad}  {json_text(x, level + 1)}" for x in obj]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(obj)


def _json_key(key: Any) -> str:
    """A dict key as ``json.dumps`` writes it: strings as they are, numbers, booleans and None
    as their JSON text."""
    return key if isinstance(key, str) else json.dumps(key)


def write_json(obj: Any, path: str | os.PathLike) -> None:
    """Atomically write ``obj`` as JSON (:func:`json_text`: sorted keys, lists of scalars on one
    line)."""
    atomic_write_bytes(path, (json_text(obj) + "\n").encode())


def repair_advice(path: str | os.PathLike, rebuild: str) -> str:
    """How to repair a damaged file: a file git tracks (the committed study: its cells, its
    published weights) is restored from git, not deleted — it cannot be rebuilt without the
    training behind it; any other is rebuilt as ``rebuild`` says. Asks git, so call it on the
    error path only."""
    from vae_report import layout

    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", str(path)],
                             cwd=layout.PROJECT_ROOT, capture_output=True).returncode == 0
    if tracked:
        return (f"it is part of the committed study: restore it with `git checkout -- "
                f"{layout.relative(Path(path))}` (do not delete it)")
    return rebuild


def torch_load_or_explain(path: str | os.PathLike, what: str, fix: str | Callable[[], str],
                          device: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``, or a :class:`~vae_report.errors.DataError` naming
    the file, ``what`` it is and the ``fix`` (a text, or a function giving it, called only then)
    when the file is damaged (torch raises several types for a damaged zip: ``RuntimeError``,
    ``OSError``, ``EOFError``, pickle errors)."""
    from vae_report.errors import DataError

    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        text = str(exc).strip()
        first_line = text.splitlines()[0] if text else type(exc).__name__
        advice = fix() if callable(fix) else fix
        raise DataError(f"{what} {path} is unreadable ({first_line}); {advice}") from exc
