"""Writing files so that a kill mid-write never leaves a half file under the final name."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch


def _temporary_name(path: Path) -> Path:
    # hidden and per process: two writers never share it, and globs of outputs never see it
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    tmp.write_bytes(data)
    os.replace(tmp, path)


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file, then rename: a kill mid-write leaves the old file, and
    no temporary file (removed on any failure, Ctrl-C included)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
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


def write_json(obj: Any, path: str | os.PathLike) -> None:
    """Atomically write ``obj`` as indented JSON with sorted keys."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def torch_load_or_explain(path: str | os.PathLike, what: str, fix: str,
                          device: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``, or a :class:`~vae_report.errors.DataError` naming
    the file, ``what`` it is and the ``fix`` when the file is damaged (torch raises several types
    for a damaged zip: ``RuntimeError``, ``OSError``, ``EOFError``, pickle errors)."""
    from .errors import DataError

    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        text = str(exc).strip()
        first_line = text.splitlines()[0] if text else type(exc).__name__
        raise DataError(f"{what} {path} is unreadable ({first_line}); {fix}") from exc
