"""Shared fixtures: tiny synthetic data and tiny idx files, so tests need no download."""
from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
from vae_report import layout
from vae_report.train import checkpoints
from vae_report.train.loop import train_models
from vae_report.train.state import TrainConfig
from vae_report.metrics.classifier import ClassifierConfig, train_classifier
from vae_report.data import load_mnist
from vae_report.provenance import provenance

from configs import study_params


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
    return _tiny_idx(tmp_path / "src")


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


def _tiny_idx(folder: Path) -> Path:
    """Tiny idx files (50 training, 20 test images of noise) in ``folder``."""
    g = torch.Generator().manual_seed(0)
    folder.mkdir()
    for prefix, n in (("train", 50), ("t10k", 20)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", torch.randint(0, 256, (n, 28, 28), generator=g), 2051)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", torch.arange(n) % 10, 2049)
    return folder


@pytest.fixture(scope="session")
def explore_study(tmp_path_factory):
    """Two models trained for two epochs on 40 tiny-MNIST images, in a project folder: checkpoints of
    t/original/seed-0/{deep-128, vanilla}, the classifier, and published weights of
    t/retrained/seed-0/vanilla (no checkpoint for that one). Returns (root, idx folder, the
    scratch checkpoint the published weights came from)."""
    root = tmp_path_factory.mktemp("project")
    src = _tiny_idx(root / "src")
    data = load_mnist(root / "data", str(src), 0.2, 0)
    for arch in ("deep-128", "vanilla"):
        params = study_params(arch=arch, run="original", seed=0, epochs=2, batch_size=8,
                              train_subset=0, eval_subset=0, eval_batch_size=7)
        train_models([TrainConfig.from_params(params)], data.train, data.val,
                     [layout.checkpoint_path("t", "original", 0, arch, root / "checkpoints")],
                     meta=[provenance(params.as_dict())], progress=False)
    train_classifier(ClassifierConfig(epochs=1), data.train, data.train_labels, data.val,
                     data.val_labels, layout.classifier_path("t", root / "checkpoints"))
    params = study_params(arch="vanilla", run="retrained", seed=0, epochs=1, batch_size=8,
                          train_subset=0, eval_subset=0)
    scratch = root / "scratch.pt"
    train_models([TrainConfig.from_params(params)], data.train, data.val, [scratch],
                 meta=[provenance(params.as_dict())], progress=False)
    checkpoints.publish_model(scratch, layout.published_model_path("t", "retrained", 0, "vanilla",
                                                                   root / "reports"))
    return root, src, scratch


@pytest.fixture
def here(explore_study, monkeypatch):
    """The tiny study as this checkout's project root."""
    root, src, _ = explore_study
    monkeypatch.setattr(layout, "PROJECT_ROOT", root)
    monkeypatch.setenv("MNIST_SOURCE", str(src))
    return root
