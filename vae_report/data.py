"""MNIST as in-memory tensors: idx checks, offline sources, the tensor cache, the split.

Loading always goes through ``torchvision.datasets.MNIST``. A folder of the four original idx
files (``MNIST_SOURCE``) is checked — idx header against length, and ``SHA256SUMS`` when the
folder has one — and placed where torchvision looks (``<root>/MNIST/raw``); without one
torchvision downloads as usual.
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from vae_report.errors import DataError
from vae_report.files import atomic_torch_save, atomic_write_bytes
from vae_report.layout import PROJECT_ROOT, mnist_cache

MNIST_FILES: dict[str, tuple[int, int]] = {
    # file name (torchvision's raw name) -> (idx magic number, number of dimensions)
    "train-images-idx3-ubyte": (2051, 3),
    "train-labels-idx1-ubyte": (2049, 1),
    "t10k-images-idx3-ubyte": (2051, 3),
    "t10k-labels-idx1-ubyte": (2049, 1),
}

MNIST_SOURCE_HELP = (
    "Point MNIST_SOURCE (or the mnist_source parameter) at a folder holding the four original "
    "idx files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
    "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]), or leave it unset on a machine "
    "with internet access so torchvision downloads them."
)


def finite_pixels(x: Tensor) -> Tensor:
    """NaN and +inf pixels as 1 (white, like a saturated chain), -inf as 0; ``[N, 784]``.

    The one clean-up of non-finite pixels (a diverged chain): the classifier and the distances
    use it as is, pictures clamp it to ``[0, 1]`` on top.
    """
    return torch.nan_to_num(x, nan=1.0, posinf=1.0, neginf=0.0)


# --------------------------------------------------------------------------------------------
# idx files
# --------------------------------------------------------------------------------------------

def check_idx_bytes(data: bytes, expected_magic: int, expected_ndim: int, name: str) -> tuple[int, ...]:
    """Validate an idx file's header against its length; return its shape.

    idx layout: a big-endian int32 magic (0x0000 08 ndim for unsigned bytes), ``ndim`` big-endian
    int32 sizes, then the data bytes.
    """
    if len(data) < 4:
        raise DataError(f"{name}: file is empty or truncated ({len(data)} bytes). {MNIST_SOURCE_HELP}")
    (magic,) = struct.unpack(">i", data[:4])
    if magic != expected_magic:
        raise DataError(f"{name}: not an idx file of the expected kind (magic number {magic}, "
                        f"expected {expected_magic}); the file is corrupt or misnamed. "
                        f"{MNIST_SOURCE_HELP}")
    header = 4 + 4 * expected_ndim
    if len(data) < header:
        raise DataError(f"{name}: truncated header ({len(data)} bytes). {MNIST_SOURCE_HELP}")
    shape = struct.unpack(f">{expected_ndim}i", data[4:header])
    expected = header + math.prod(shape)
    if len(data) != expected:
        raise DataError(f"{name}: {len(data)} bytes but its header {shape} promises {expected}; "
                        f"the file is truncated or corrupt. Replace it with a fresh copy. "
                        f"{MNIST_SOURCE_HELP}")
    return shape


def _read_maybe_gz(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    # zlib.error: a .gz whose compressed stream is damaged (no SHA256SUMS caught it first)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: cannot be read ({exc}); the file is truncated or corrupt. "
                        f"Replace it with a fresh copy. {MNIST_SOURCE_HELP}") from exc


def _verify_checksums(source: Path) -> None:
    """If the source folder has a SHA256SUMS file, check the files it lists."""
    sums = source / "SHA256SUMS"
    if not sums.exists():
        return
    for line in sums.read_text().splitlines():
        if not line.strip():
            continue
        digest, name = line.split()[:2]
        path = source / name.lstrip("*")
        if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise DataError(f"{path}: SHA-256 does not match {sums}; the file is corrupt. "
                            f"Replace it with a fresh copy.")


def install_mnist_source(source: str | os.PathLike, root: str | os.PathLike) -> Path:
    """Place the idx files of ``source`` (gz or raw) where torchvision looks: ``root/MNIST/raw``.

    Every file is validated (header vs length, and SHA256SUMS when the folder has one) before it
    is written; files are written atomically so an interrupted copy never leaves a half file.
    Returns the raw folder.
    """
    source = Path(source)
    if not source.is_dir():
        raise DataError(f"MNIST source folder {source} does not exist. {MNIST_SOURCE_HELP}")
    _verify_checksums(source)
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, (magic, ndim) in MNIST_FILES.items():
        candidates = [source / f"{name}.gz", source / name]
        found = next((p for p in candidates if p.exists()), None)
        if found is None:
            raise DataError(f"{source}: missing {name}.gz (or {name}). {MNIST_SOURCE_HELP}")
        data = _read_maybe_gz(found)
        check_idx_bytes(data, magic, ndim, str(found))
        target = raw / name
        if target.exists() and target.stat().st_size == len(data) and target.read_bytes() == data:
            continue
        atomic_write_bytes(target, data)
    return raw


def _validate_raw_folder(raw: Path) -> None:
    for name, (magic, ndim) in MNIST_FILES.items():
        path = raw / name
        if path.exists():
            check_idx_bytes(path.read_bytes(), magic, ndim, str(path))


# --------------------------------------------------------------------------------------------
# Loading, caching, splitting
# --------------------------------------------------------------------------------------------

@dataclass
class MNISTSplits:
    """MNIST as in-memory tensors: images ``[N, 784]`` float32 in [0, 1], labels ``[N]`` int64."""

    train: Tensor
    val: Tensor
    test: Tensor
    train_labels: Tensor
    val_labels: Tensor
    test_labels: Tensor

    def subset(self, train: int, evaluation: int) -> "MNISTSplits":
        """The first ``train`` training and ``evaluation`` validation/test images (0 = all)."""
        return MNISTSplits(
            train=first_rows(self.train, train), train_labels=first_rows(self.train_labels, train),
            val=first_rows(self.val, evaluation), val_labels=first_rows(self.val_labels, evaluation),
            test=first_rows(self.test, evaluation),
            test_labels=first_rows(self.test_labels, evaluation))


def first_rows(x: Tensor, n: int) -> Tensor:
    """The first ``n`` rows of ``x`` (all of them when ``n`` is 0)."""
    return x if n == 0 else x[:n]


def resolve_mnist_source(source: str | None) -> str | None:
    """The explicit source if given, else the ``MNIST_SOURCE`` environment variable, else None."""
    return source or os.environ.get("MNIST_SOURCE") or None


def _raw_signature(raw: Path) -> list[list[Any]] | None:
    """Name, size and modification time of the four raw idx files; None if one is missing."""
    paths = [raw / name for name in MNIST_FILES]
    if not all(p.exists() for p in paths):
        return None
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in paths]


def _torchvision_mnist(root: Path, download: bool) -> dict[str, Tensor]:
    """The four arrays as ``torchvision.datasets.MNIST`` reads them: uint8 images ``[N, 28, 28]``,
    int64 labels ``[N]``."""
    from torchvision.datasets import MNIST  # imported here: keeps importing the package light

    arrays = {}
    for split, train in (("train", True), ("test", False)):
        try:
            ds = MNIST(str(root), train=train, download=download)
        except (RuntimeError, OSError) as exc:
            raise DataError(f"MNIST could not be loaded into {root} ({exc}). "
                            f"{MNIST_SOURCE_HELP}") from exc
        arrays[f"{split}_images"] = ds.data
        arrays[f"{split}_labels"] = ds.targets.to(torch.int64)
    return arrays


def _cached_mnist(root: Path, download: bool) -> dict[str, Tensor]:
    """torchvision's arrays, kept in ``root/MNIST/tensors.pt`` beside the raw files.

    Every notebook loads MNIST; importing torchvision and parsing the idx files cost ≈ 2 s of
    each notebook's start. The cache is torchvision's own output, stored with the size and
    modification time of the raw files it came from: when a raw file changes (a new source, a
    re-download) torchvision reads it again and the cache is rewritten.
    """
    raw = root / "MNIST" / "raw"
    cache = mnist_cache(root)
    signature = _raw_signature(raw)
    if signature is not None and cache.exists():
        try:
            saved = torch.load(cache, weights_only=True)
        except Exception:  # an unreadable cache is only a cache: read the raw files again
            saved = {}
        if saved.get("raw_files") == signature:
            return {key: saved[key] for key in
                    ("train_images", "train_labels", "test_images", "test_labels")}
    arrays = _torchvision_mnist(root, download)
    signature = _raw_signature(raw)
    if signature is not None:
        atomic_torch_save({**arrays, "raw_files": signature}, cache)
    return arrays


def load_mnist(root: str | os.PathLike = PROJECT_ROOT / "data", source: str | None = None,
               val_split: float = 0.2, split_seed: int = 0) -> MNISTSplits:
    """MNIST through ``torchvision.datasets.MNIST``, split train/validation by a fixed seed.

    ``source`` (or ``$MNIST_SOURCE``) names a folder of idx files to use offline; without one,
    torchvision downloads into ``root`` as usual. The 60k training images are split
    ``(1 - val_split) : val_split`` by a permutation drawn from ``split_seed``. What torchvision
    read is cached in ``root/MNIST/tensors.pt`` until a raw file changes.
    """
    if not 0.0 < val_split < 1.0:
        raise ValueError(f"val_split must be in (0, 1), got {val_split}")
    source = resolve_mnist_source(source)
    root = Path(root)
    if source is not None:
        install_mnist_source(source, root)
    else:
        _validate_raw_folder(root / "MNIST" / "raw")
    arrays = _cached_mnist(root, download=source is None)
    x, x_test = (arrays[f"{split}_images"].reshape(len(arrays[f"{split}_images"]), -1)
                 .to(torch.float32).div_(255.0) for split in ("train", "test"))
    y, y_test = arrays["train_labels"], arrays["test_labels"]
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(split_seed))
    n_val = int(round(val_split * len(x)))
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    return MNISTSplits(train=x[train_idx], val=x[val_idx], test=x_test,
                       train_labels=y[train_idx], val_labels=y[val_idx], test_labels=y_test)


def main(argv: list[str] | None = None) -> int:
    """``python -m vae_report.data [--root data] [--source DIR]``: prepare MNIST once (the
    workflow's first rule), so that no two notebooks ever download or unpack it at the same time.
    Prints one line; on failure one error naming the file and the fix, exit status 1."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(description="Prepare MNIST for the study (check, unpack, cache).")
    ap.add_argument("--root", default=str(PROJECT_ROOT / "data"), help="data folder (default data/)")
    ap.add_argument("--source", default=None,
                    help="folder of MNIST idx files (default $MNIST_SOURCE, else download)")
    args = ap.parse_args(argv)
    try:
        d = load_mnist(args.root, args.source)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"MNIST ready in {mnist_cache(args.root)}: {len(d.train) + len(d.val)} training and "
          f"{len(d.test)} test images")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
