"""Shared fixtures: tiny synthetic data and tiny idx files, so tests need no download."""
from __future__ import annotations

import gzip
import os
import struct
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_idx(path: Path, array: torch.Tensor, magic: int, compress: bool = True) -> Path:
    """Write a uint8 tensor as an idx file (optionally gzipped), the format MNIST ships in."""
    data = struct.pack(">i", magic) + struct.pack(f">{array.dim()}i", *array.shape)
    data += array.to(torch.uint8).numpy().tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


@pytest.fixture
def tiny_mnist(tmp_path: Path) -> Path:
    """A folder with the four MNIST idx files holding 50 training and 20 test images."""
    src = tmp_path / "src"
    src.mkdir()
    g = torch.Generator().manual_seed(0)
    for prefix, n in (("train", 50), ("t10k", 20)):
        images = torch.randint(0, 256, (n, 28, 28), generator=g)
        labels = torch.arange(n) % 10
        write_idx(src / f"{prefix}-images-idx3-ubyte", images, 2051)
        write_idx(src / f"{prefix}-labels-idx1-ubyte", labels, 2049)
    return src


@pytest.fixture
def blobs() -> torch.Tensor:
    """``[600, 784]`` images in [0, 1]: 6 random prototypes plus a little noise (learnable fast)."""
    g = torch.Generator().manual_seed(0)
    protos = (torch.rand(6, 784, generator=g) > 0.7).float()
    idx = torch.arange(600) % 6
    return (protos[idx] * 0.9 + 0.1 * torch.rand(600, 784, generator=g)).clamp(0, 1)


@pytest.fixture
def mnist_source() -> str:
    """The real MNIST idx folder (``$MNIST_SOURCE``); tests that need it skip without it."""
    src = os.environ.get("MNIST_SOURCE")
    if not src or not Path(src).is_dir():
        pytest.skip("MNIST_SOURCE is not set to a folder of MNIST idx files")
    return src
