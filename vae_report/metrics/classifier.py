"""The digit classifier: a small CNN that judges the VAEs' samples and chains.

It is a yardstick, not part of the study: trained once per profile on the study's 48k training
images (``notebooks/00-classifier.ipynb``), its weights cached in
``checkpoints/<profile>/classifier.pt`` with its config and a ``design`` string, so a cache made
for another config or design is retrained, never silently loaded into the wrong network.
"""
from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from vae_core import IMAGE_SIDE

from vae_report.data import finite_pixels
from vae_report.devices import flush_denormals
from vae_report.errors import DataError
from vae_report.files import atomic_torch_save, torch_load_or_explain
from .evaluation import batches

_RETRAIN = "rerun notebooks/00-classifier.ipynb (`make report` does it) to retrain it"


class _ChannelsLastImages(nn.Module):
    """``[B, 784] → [B, 1, 28, 28]`` in channels-last memory order (a module without weights, so
    it keeps the place, and the state-dict keys, of the ``nn.Unflatten`` it replaced)."""

    def forward(self, x: Tensor) -> Tensor:
        return (x.reshape(-1, 1, IMAGE_SIDE, IMAGE_SIDE)
                .contiguous(memory_format=torch.channels_last))


class DigitClassifier(nn.Module):
    """A small CNN for MNIST digits; it measures the VAEs' samples, it is not part of the study.

    ``[B, 784]`` pixels in [0, 1] → logits ``[B, 10]``; :meth:`features` gives the ``[B, 128]``
    penultimate activations the Fréchet distance is computed on. Two 3×3 conv layers (32 and 64
    channels, each followed by 2×2 max-pooling) and a 128-unit layer: 99.1 % test accuracy after
    6 epochs on the 48k training images (26–35 s an epoch on one CPU thread in the full run). A
    16/32-channel 5×5 variant without a learning-rate decay stopped at 98.85 %.
    """

    feature_dim = 128
    #: changes whenever the layers change, so weights cached for another design are not loaded
    design = "conv3x3-32-pool-conv3x3-64-pool-fc128"

    def __init__(self) -> None:
        super().__init__()
        pooled = IMAGE_SIDE // 4
        self.body = nn.Sequential(
            _ChannelsLastImages(),                                         # [B, 1, 28, 28]
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # [B, 32, 14, 14]
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # [B, 64, 7, 7]
            nn.Flatten(), nn.Linear(64 * pooled * pooled, self.feature_dim), nn.ReLU())
        self.head = nn.Linear(self.feature_dim, 10)
        # channels-last convolutions are oneDNN's native layout on CPU: classifying 10k images
        # on one thread took 1.1–1.4 s (batches of 100–500) instead of 2.8–3.8 s in NCHW.
        self.to(memory_format=torch.channels_last)

    def features(self, x: Tensor) -> Tensor:
        """``[B, 784] → [B, 128]``"""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, 784] → [B, 10]`` logits"""
        return self.head(self.body(x))


@dataclass
class ClassifierConfig:
    """Training of the digit classifier (Adam, cosine learning-rate decay to 0 over all steps);
    its seed is fixed, independent of the VAEs' seeds."""

    epochs: int = 6
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    design: str = DigitClassifier.design


@torch.no_grad()
def classify(net: DigitClassifier, x: Tensor, batch_size: int = 200) -> dict[str, Tensor]:
    """Classes ``[N]``, confidences (max softmax) ``[N]`` and features ``[N, 128]`` of ``x [N, 784]``.

    Non-finite pixels (a diverged chain) are set by ``data.finite_pixels`` first, so they get a
    label, not an error.
    """
    x = finite_pixels(x)
    feats = torch.cat([net.features(xb) for xb in batches(x, batch_size)])
    probs = torch.softmax(net.head(feats), dim=1)
    conf, cls = probs.max(1)
    return {"classes": cls, "confidence": conf, "features": feats}


def classifier_accuracy(net: DigitClassifier, x: Tensor, y: Tensor, batch_size: int = 200) -> float:
    """Fraction of ``x [N, 784]`` whose predicted class equals ``y [N]`` (the network has no
    dropout or batch norm, so train and eval mode predict alike)."""
    return float((classify(net, x, batch_size)["classes"] == y).float().mean())


def _cached(path: Path, config: ClassifierConfig, device: str | torch.device) -> dict | None:
    """The cache at ``path`` if it holds weights for ``config``; None (retrain) when it is
    missing, made for another config, or unreadable — it is only a cache."""
    if not path.exists():
        return None
    try:
        saved = torch_load_or_explain(path, "the digit classifier's cache", "retraining it",
                                      device)
    except DataError as exc:
        print(f"{exc}", file=sys.stderr)
        return None
    if not isinstance(saved, dict) or saved.get("config") != dataclasses.asdict(config):
        return None
    return saved


def train_classifier(config: ClassifierConfig, x: Tensor, y: Tensor, val_x: Tensor, val_y: Tensor,
                     path: str | os.PathLike, device: str | torch.device = "cpu",
                     ) -> tuple[DigitClassifier, dict[str, Any]]:
    """Train :class:`DigitClassifier` on ``x [N, 784]``, ``y [N]``, or load it from ``path``.

    The weights are cached at ``path`` with the config and the validation accuracy per epoch;
    a cache made with another config, or an unreadable one, is retrained, not reused.
    """
    path = Path(path)
    saved = _cached(path, config, device)
    if saved is not None:
        net = DigitClassifier().to(device)
        net.load_state_dict(saved["model"])
        return net.eval(), {**saved["log"], "cached": True}
    flush_denormals()
    torch.manual_seed(config.seed)
    net = DigitClassifier().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    steps_per_epoch = math.ceil(len(x) / config.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(config.seed)
    x, y, val_x, val_y = x.to(device), y.to(device), val_x.to(device), val_y.to(device)
    log: dict[str, Any] = {"val_accuracy": [], "seconds": []}
    for _ in range(config.epochs):
        start = time.perf_counter()
        perm = torch.randperm(len(x), generator=gen).to(device)
        for i in range(0, len(x), config.batch_size):
            idx = perm[i:i + config.batch_size]
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
        log["seconds"].append(time.perf_counter() - start)
        log["val_accuracy"].append(classifier_accuracy(net, val_x, val_y))
    atomic_torch_save({"model": net.state_dict(), "config": dataclasses.asdict(config),
                       "log": log}, path)
    return net.eval(), {**log, "cached": False}


def load_classifier(path: str | os.PathLike, device: str | torch.device = "cpu") -> DigitClassifier:
    """The classifier cached by :func:`train_classifier` (notebook 00-classifier)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no digit classifier at {path}: run notebooks/00-classifier.ipynb "
                                f"(`make report` does it first)")
    saved = torch_load_or_explain(path, "the digit classifier", f"delete it and {_RETRAIN}",
                                  device)
    if not isinstance(saved, dict) or saved.get("config", {}).get("design") != DigitClassifier.design:
        raise DataError(f"the digit classifier at {path} was trained for another design; "
                        f"{_RETRAIN}")
    net = DigitClassifier().to(device)
    net.load_state_dict(saved["model"])
    return net.eval()
