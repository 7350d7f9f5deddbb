"""Gaussian VAEs on MNIST: model, ELBO, data, training and evaluation for the report suite.

This module is the one place for logic; the notebooks under ``notebooks/`` set up, call and plot.
Importing it has no side effects: no data is loaded, no argument is parsed, no global RNG is touched.

Conventions used throughout
---------------------------
* Images are flattened float32 tensors ``[N, 784]`` with pixels in ``[0, 1]`` (not standardised).
* The ELBO is in nats per image (summed over the 784 pixels and the latent dimensions, averaged over
  the batch) and *higher is better*. The Gaussian log-likelihood includes its normalising constant.
* Every function that draws random numbers takes an explicit ``seed`` or ``torch.Generator``, so
  the same seed gives the same numbers and evaluation never disturbs the training RNG.
"""
from __future__ import annotations

import dataclasses
import difflib
import gzip
import hashlib
import json
import math
import os
import platform
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PROJECT_ROOT = Path(__file__).resolve().parent

# --------------------------------------------------------------------------------------------
# Architectures (the seed's Table 2)
# --------------------------------------------------------------------------------------------

#: name -> encoder hidden sizes; the decoder uses them reversed.
ARCHS: dict[str, list[int]] = {
    "vanilla": [],
    "deep-128": [128],
    "deep-256": [256],
    "deep-512": [512],
    "deep-256-128": [256, 128],
    "deep-512-256": [512, 256],
    "deep-512-256-128": [512, 256, 128],
}

#: The seed's parameter counts (Table 2); our models must match them exactly.
SEED_PARAM_COUNTS: dict[str, int] = {
    "vanilla": 151441,
    "deep-128": 226449,
    "deep-256": 451985,
    "deep-512": 903057,
    "deep-256-128": 493201,
    "deep-512-256": 1116561,
    "deep-512-256-128": 1157777,
}

#: The seed's test ELBO (Tables 3 and 4), in the seed's own (unstated) units.
SEED_TEST_ELBO: dict[str, dict[str, float]] = {
    "original": {"vanilla": 35.60, "deep-128": 37.00, "deep-256": 48.29, "deep-512": 56.41,
                 "deep-256-128": 38.20, "deep-512-256": 42.53, "deep-512-256-128": 33.79},
    "retrained": {"vanilla": 35.92, "deep-128": 30.90, "deep-256": 50.14, "deep-512": 49.26,
                  "deep-256-128": 13.43, "deep-512-256": 8.52, "deep-512-256-128": 25.45},
}

IMAGE_PIXELS = 28 * 28
LOG_2PI = math.log(2 * math.pi)


def arch_layers(arch: str) -> str:
    """The seed's Table 2 notation for an architecture, e.g. ``784 → 256 → 64``."""
    hidden = ARCHS[arch]
    return " → ".join(str(n) for n in [IMAGE_PIXELS, *hidden, "z"])


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

# Floors for the two standard deviations. softplus grows linearly, so a std = floor + softplus(raw)
# can neither overflow (exp of a large log-sigma is what sent the seed's sigma to infinity) nor
# reach zero (log sigma -> -inf is what sent its likelihood and its samples to NaN).
ENCODER_STD_FLOOR = 1e-4
DECODER_STD_FLOOR = 1e-3


def positive_std(raw: Tensor, floor: float) -> Tensor:
    """Map an unconstrained tensor to a standard deviation in ``(floor, inf)`` without overflow."""
    return F.softplus(raw) + floor


def _inverse_positive_std(std: float, floor: float) -> float:
    """The raw value that :func:`positive_std` maps to ``std`` (used to initialise sigma = 1)."""
    y = std - floor
    return y + math.log(-math.expm1(-y))


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers between consecutive ``sizes`` with a ReLU after each (the trunk of a coder)."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers)


@dataclass
class Posterior:
    """The diagonal Gaussian q(z|x): ``mean`` and ``std`` are ``[B, D]``."""

    mean: Tensor
    std: Tensor

    @property
    def logvar(self) -> Tensor:
        return 2 * torch.log(self.std)

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        """Reparameterised draw ``z = mean + std * eps``, ``[B, D]``."""
        eps = torch.randn(self.mean.shape, generator=generator, device=self.mean.device,
                          dtype=self.mean.dtype)
        return self.mean + self.std * eps


class VAE(nn.Module):
    """MLP VAE with a diagonal Gaussian encoder and a Gaussian decoder with one learned scalar sigma.

    Encoder: ``784 → hidden… → 2·D`` (ReLU between layers); the last layer gives the mean and the
    raw std of q(z|x) in one matrix multiply (same parameter count as two heads, one op fewer).
    Decoder: ``D → reversed(hidden)… → 784``; its output goes through a sigmoid, so the pixel means
    live in ``[0, 1]`` like the data. One scalar sigma is shared by all pixels.

    Parameter count = the seed's Table 2 exactly (the extra 1 is the decoder's sigma).
    """

    def __init__(self, hidden: Sequence[int], latent_dim: int = 64,
                 init: Literal["default", "kaiming"] = "default") -> None:
        super().__init__()
        if init not in ("default", "kaiming"):
            raise ValueError(f"init must be 'default' or 'kaiming', got {init!r}")
        self.hidden = list(hidden)
        self.latent_dim = latent_dim
        enc_sizes = [IMAGE_PIXELS, *self.hidden]
        dec_sizes = [latent_dim, *reversed(self.hidden)]
        self.encoder = mlp(enc_sizes)
        self.encoder_head = nn.Linear(enc_sizes[-1], 2 * latent_dim)
        self.decoder = mlp(dec_sizes)
        self.decoder_head = nn.Linear(dec_sizes[-1], IMAGE_PIXELS)
        # sigma = DECODER_STD_FLOOR + softplus(raw), initialised to sigma = 1.
        self.decoder_raw_std = nn.Parameter(
            torch.tensor(_inverse_positive_std(1.0, DECODER_STD_FLOOR)))
        if init == "kaiming":
            self.apply(_kaiming_init)

    def encode(self, x: Tensor) -> Posterior:
        """``x [B, 784]`` → q(z|x) with ``mean, std [B, D]``."""
        mean, raw_std = self.encoder_head(self.encoder(x)).chunk(2, dim=-1)
        return Posterior(mean, positive_std(raw_std, ENCODER_STD_FLOOR))

    def decode(self, z: Tensor) -> Tensor:
        """``z [B, D]`` → pixel means of p(x|z), ``[B, 784]`` in ``[0, 1]``."""
        return torch.sigmoid(self.decoder_head(self.decoder(z)))

    @property
    def decoder_std(self) -> Tensor:
        """The decoder's scalar sigma (0-dim tensor)."""
        return positive_std(self.decoder_raw_std, DECODER_STD_FLOOR)

    def sample_x(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``x ~ p(x|z) = N(decode(z), sigma² I)``, ``[B, 784]`` (not clipped)."""
        mean = self.decode(z)
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + self.decoder_std * eps


def _kaiming_init(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        nn.init.zeros_(module.bias)


def build_model(arch: str, latent_dim: int = 64, init: str = "default") -> VAE:
    """The VAE of one of :data:`ARCHS` by name; a clear error for an unknown name."""
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    return VAE(ARCHS[arch], latent_dim=latent_dim, init=init)  # type: ignore[arg-type]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------------------------
# ELBO
# --------------------------------------------------------------------------------------------

@dataclass
class ELBOTerms:
    """Per-image terms of the ELBO, in nats. ``elbo = log_lik - kl``.

    ``log_lik [B]``: log N(x; mu(z), sigma² I) summed over pixels, one z per image.
    ``kl_per_dim [B, D]``: closed-form KL(q(z|x) || N(0, I)) per latent dimension.
    """

    log_lik: Tensor
    kl_per_dim: Tensor

    @property
    def kl(self) -> Tensor:
        """``[B]``"""
        return self.kl_per_dim.sum(-1)

    @property
    def elbo(self) -> Tensor:
        """``[B]``"""
        return self.log_lik - self.kl

    @property
    def loss(self) -> Tensor:
        """Scalar to minimise: the negative ELBO averaged over the batch."""
        return -self.elbo.mean()


def gaussian_log_likelihood(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """log N(x; mean, std² I) summed over the last axis, including -½·log 2π: ``[B, P] → [B]``.

    ``std`` is a scalar (the model's shared sigma) or broadcastable to ``x``. Written as one
    squared-error sum plus the normalising terms: three ops on ``[B, P]`` instead of six, which is
    worth ~10 % of a training step at batch 16.
    """
    std = torch.as_tensor(std, dtype=x.dtype, device=x.device)
    quad = ((x - mean) / std).square().sum(-1)
    pixels = x.shape[-1]
    log_std = pixels * torch.log(std) if std.dim() == 0 else torch.log(std).expand(x.shape).sum(-1)
    return -0.5 * quad - log_std - 0.5 * pixels * LOG_2PI


def kl_to_standard_normal(q: Posterior) -> Tensor:
    """Closed-form KL(N(mean, std²) || N(0, 1)) per dimension, ``[B, D]``; always ≥ 0."""
    var = q.std.square()
    return 0.5 * (var + q.mean.square() - 1.0) - torch.log(q.std)


def elbo_terms(model: VAE, x: Tensor, generator: torch.Generator | None = None) -> ELBOTerms:
    """One-sample ELBO of ``x [B, 784]`` under ``model`` (reparameterised, differentiable)."""
    q = model.encode(x)
    z = q.sample(generator)
    log_lik = gaussian_log_likelihood(x, model.decode(z), model.decoder_std)
    return ELBOTerms(log_lik=log_lik, kl_per_dim=kl_to_standard_normal(q))


# --------------------------------------------------------------------------------------------
# The training step with a hand-written backward pass
# --------------------------------------------------------------------------------------------
# At batch 16 a step of these small MLPs is dominated by per-operation overhead, not arithmetic:
# autograd records a graph, saves tensors, allocates and accumulates gradients. The VAE's
# gradient has a short closed form, so the trainer computes it directly, writing each gradient
# into its parameter's `.grad` buffer with `out=` (no allocation, no zeroing, no graph). The
# numbers equal autograd's up to float rounding (tests/test_train.py checks it); `elbo_terms`
# stays the reference definition of the ELBO and is what evaluation uses.

def _linears(stack: nn.Sequential, head: nn.Linear) -> list[nn.Linear]:
    return [m for m in stack if isinstance(m, nn.Linear)] + [head]


def _mlp_forward(layers: Sequence[nn.Linear], x: Tensor) -> tuple[list[Tensor], Tensor]:
    """ReLU MLP forward. Returns each layer's input (``[B, n_in]``; ReLU outputs after the first)
    and the last layer's output (no activation)."""
    inputs = [x]
    h = x
    for lin in layers[:-1]:
        h = torch.addmm(lin.bias, h, lin.weight.t()).relu_()
        inputs.append(h)
    return inputs, torch.addmm(layers[-1].bias, h, layers[-1].weight.t())


def _mlp_backward(layers: Sequence[nn.Linear], inputs: Sequence[Tensor], grad_out: Tensor,
                  input_grad: bool) -> Tensor | None:
    """Backward of :func:`_mlp_forward`: writes every weight's and bias's ``.grad`` and returns the
    gradient with respect to the MLP's input when ``input_grad``."""
    g = grad_out
    for i in range(len(layers) - 1, -1, -1):
        lin = layers[i]
        torch.mm(g.t(), inputs[i], out=lin.weight.grad)
        torch.sum(g, 0, out=lin.bias.grad)
        if i > 0 or input_grad:
            g = g.mm(lin.weight)
            if i > 0:   # through the ReLU whose output was this layer's input
                g = torch.ops.aten.threshold_backward(g, inputs[i], 0)
    return g if input_grad else None


def allocate_grads(model: nn.Module) -> None:
    """Give every parameter a zeroed ``.grad`` buffer for :func:`elbo_step` to write into."""
    for p in model.parameters():
        if p.grad is None:
            p.grad = torch.zeros_like(p)


@torch.no_grad()
def elbo_step(model: VAE, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One-sample ELBO of ``x [B, 784]`` and the gradient of the loss ``-mean(ELBO)``.

    The gradient goes into each parameter's ``.grad`` (overwritten, not accumulated; call
    :func:`allocate_grads` once first). Returns the per-image ELBO ``[B]`` (nats). The noise is
    drawn exactly as in :func:`elbo_terms`, so both give the same numbers for the same generator.
    """
    batch, latent = x.shape[0], model.latent_dim
    pixels = x.shape[1]
    enc = _linears(model.encoder, model.encoder_head)
    dec = _linears(model.decoder, model.decoder_head)
    # forward
    enc_inputs, head = _mlp_forward(enc, x)                       # head [B, 2D]
    mu, raw_std = head[:, :latent], head[:, latent:]
    std = F.softplus(raw_std).add_(ENCODER_STD_FLOOR)
    eps = torch.randn(mu.shape, generator=generator, device=x.device, dtype=x.dtype)
    z = torch.addcmul(mu, std, eps)
    dec_inputs, logits = _mlp_forward(dec, z)
    mean = torch.sigmoid(logits)                                  # [B, 784]
    rho = model.decoder_raw_std
    sigma = F.softplus(rho) + DECODER_STD_FLOOR
    inv_var = sigma.square().reciprocal()
    diff = mean - x
    sq = diff.square().sum(1)                                     # [B]
    log_lik = sq.mul(-0.5 * inv_var) - (pixels * torch.log(sigma) + 0.5 * pixels * LOG_2PI)
    log_std = torch.log(std)
    kl = (std.square() + mu.square()).sum(1).sub_(latent).mul_(0.5) - log_std.sum(1)
    # backward of -mean(log_lik - kl)
    grad_logits = torch.ops.aten.sigmoid_backward(diff.mul_(inv_var / batch), mean)
    grad_z = _mlp_backward(dec, dec_inputs, grad_logits, input_grad=True)
    grad_sigma = (pixels - sq.mean() * inv_var) / sigma           # d/dsigma of -mean(log_lik)
    rho.grad.copy_(grad_sigma * torch.sigmoid(rho))
    grad_head = torch.empty_like(head)
    torch.add(grad_z, mu, alpha=1.0 / batch, out=grad_head[:, :latent])      # + d KL/d mu
    grad_std = torch.addcmul((std - std.reciprocal()).div_(batch), grad_z, eps)  # + d KL/d std
    torch.mul(grad_std, torch.sigmoid(raw_std), out=grad_head[:, latent:])
    _mlp_backward(enc, enc_inputs, grad_head, input_grad=False)
    return log_lik - kl


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

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


class DataError(RuntimeError):
    """A missing, truncated or corrupt data file; the message names the file and the fix."""


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
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
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
        _atomic_write_bytes(target, data)
    return raw


def _validate_raw_folder(raw: Path) -> None:
    for name, (magic, ndim) in MNIST_FILES.items():
        path = raw / name
        if path.exists():
            check_idx_bytes(path.read_bytes(), magic, ndim, str(path))


@dataclass
class MNISTSplits:
    """MNIST as in-memory tensors: images ``[N, 784]`` float32 in [0, 1], labels ``[N]`` int64."""

    train: Tensor
    val: Tensor
    test: Tensor
    train_labels: Tensor
    val_labels: Tensor
    test_labels: Tensor


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
    from torchvision.datasets import MNIST  # imported here: keeps `import vae_core` light

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
    cache = root / "MNIST" / "tensors.pt"
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


# --------------------------------------------------------------------------------------------
# Devices, files, provenance
# --------------------------------------------------------------------------------------------

def pick_device(name: str = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else CPU; ``"cpu"`` / ``"cuda[:n]"``: that device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was asked for but CUDA is not available; "
                           f"use device='cpu' or 'auto'")
    return torch.device(name)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file, then rename: a kill mid-write leaves the old file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def write_json(obj: Any, path: str | os.PathLike) -> None:
    """Atomically write ``obj`` as indented JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def git_commit() -> str:
    """The project's git commit, with ``+dirty`` if a tracked file outside ``reports/`` differs
    from it, or ``"unknown"``. Rendered outputs are left out: a rerun rewrites the committed
    ``reports/full`` and would otherwise mark every cell of a clean checkout dirty."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)reports"],
                               cwd=PROJECT_ROOT, capture_output=True, text=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages the results depend on."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for pkg in ("torch", "torchvision", "numpy", "pandas", "matplotlib", "papermill", "nbconvert"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return versions


def provenance(params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Parameters, git commit, package versions and machine, to save beside every artifact."""
    return {"params": dict(params or {}), "git_commit": git_commit(),
            "versions": package_versions(), "machine": platform.machine(),
            "threads": torch.get_num_threads(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


# --------------------------------------------------------------------------------------------
# Parameters (validated, because papermill only warns about unknown ones)
# --------------------------------------------------------------------------------------------

class ParameterError(ValueError):
    """An unknown parameter, a wrong type or a bad value; the message names the key and the fix."""


@dataclass
class StudyParams:
    """Every parameter a notebook of the study accepts. Defaults: a fast CPU smoke run.

    The YAML files under ``params/`` and papermill's ``-p`` set these; all notebooks receive the
    same merged set, so one schema serves them all.
    """

    arch: str = "vanilla"            # one of ARCHS
    run: str = "smoke"               # name of the run (original, retrained, …): output folder
    profile: str = "smoke"           # name of the profile (full, quick, …): output folder
    latent_dim: int = 64
    lr: float = 3e-4
    epochs: int = 1
    batch_size: int = 64
    val_split: float = 0.2
    init: str = "default"            # "default" (PyTorch) or "kaiming"
    seed: int = 0                    # training seed (weights, batches, noise) of this cell
    seeds: list = field(default_factory=lambda: [0])  # the run's seeds: make runs a cell per seed
    split_seed: int = 0              # train/validation split
    train_subset: int = 2000         # use the first N training images; 0 = all 48k
    eval_subset: int = 1000          # use the first N validation/test images; 0 = all
    eval_batch_size: int = 500
    iw_samples: int = 50             # K of the importance-weighted bound
    n_samples: int = 64              # decoder samples from N(0, I)
    n_recon: int = 16                # test images in the reconstruction tableau
    chain_steps: int = 100           # length of the limiting-distribution chain
    chain_images: int = 16           # chains run side by side
    device: str = "cpu"              # "cpu", "cuda" or "auto"
    threads: int = 0                 # torch threads per process; 0 = torch's default
    iw_curve_ks: list = field(default_factory=lambda: [1, 10, 100])  # Ks of the IWAE-vs-K curve
    iw_curve_images: int = 100       # test images the IWAE-vs-K curve is computed on
    classifier_epochs: int = 1       # epochs of the digit classifier (00-classifier)
    fid_samples: int = 1000          # decoder samples judged by the classifier (04-samples)
    mnist_source: str = ""           # folder of idx files; "" = $MNIST_SOURCE or download
    data_dir: str = "data"
    reports_dir: str = "reports"
    checkpoints_dir: str = "checkpoints"

    def validate(self) -> "StudyParams":
        if self.arch not in ARCHS:
            raise ParameterError(f"arch: unknown architecture {self.arch!r}; "
                                 f"choose one of {', '.join(ARCHS)}")
        if self.init not in ("default", "kaiming"):
            raise ParameterError(f"init: must be 'default' or 'kaiming', got {self.init!r}")
        if not 0.0 < self.val_split < 1.0:
            raise ParameterError(f"val_split: must be in (0, 1), got {self.val_split}")
        for name in ("latent_dim", "epochs", "batch_size", "eval_batch_size", "iw_samples",
                     "n_samples", "n_recon", "chain_steps", "chain_images", "iw_curve_images",
                     "classifier_epochs", "fid_samples"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name}: must be ≥ 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ParameterError(f"lr: must be > 0, got {self.lr}")
        if (not self.seeds or len(set(self.seeds)) != len(self.seeds)
                or not all(isinstance(s, int) and not isinstance(s, bool) for s in self.seeds)):
            raise ParameterError(f"seeds: must be a non-empty list of distinct integers, e.g. "
                                 f"[0, 1, 2], got {self.seeds!r}")
        if not self.iw_curve_ks or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1
                                           for k in self.iw_curve_ks):
            raise ParameterError(f"iw_curve_ks: must be a non-empty list of integers ≥ 1, e.g. "
                                 f"[1, 10, 100], got {self.iw_curve_ks!r}")
        return self

    @property
    def profile_dir(self) -> Path:
        """``reports/<profile>``: the report and its figures."""
        return _project_path(self.reports_dir) / self.profile

    @property
    def out_dir(self) -> Path:
        """Where this cell's artifacts go: ``reports/<profile>/<run>/seed-<seed>/<arch>``."""
        return self.profile_dir / cell_folder(self.run, self.seed, self.arch)

    @property
    def checkpoint_path(self) -> Path:
        """``checkpoints/<profile>/<run>/seed-<seed>/<arch>.pt``."""
        return (_project_path(self.checkpoints_dir) / self.profile
                / cell_folder(self.run, self.seed, self.arch).with_suffix(".pt"))

    @property
    def classifier_dir(self) -> Path:
        """``reports/<profile>/classifier``: the digit classifier's notebook and metrics."""
        return self.profile_dir / "classifier"

    @property
    def classifier_path(self) -> Path:
        """``checkpoints/<profile>/classifier.pt``: its cached weights."""
        return _project_path(self.checkpoints_dir) / self.profile / "classifier.pt"

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def cell_folder(run: str, seed: int, arch: str) -> Path:
    """The relative folder of one cell of the study: ``<run>/seed-<seed>/<arch>``."""
    return Path(run) / f"seed-{seed}" / arch


def _project_path(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else PROJECT_ROOT / p


# Names IPython puts into a notebook's namespace; everything else in it before the check cell
# came from the parameters cell or papermill's injected cell.
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
# What papermill can inject (YAML/JSON values). Other objects in the namespace (tensors, models,
# data frames made by later cells when the check is rerun in JupyterLab) are not parameters.
_PARAMETER_TYPES = (str, int, float, bool, list, dict, type(None))


def _check_type(name: str, value: Any, expected: type) -> Any:
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and expected is not bool:
        raise ParameterError(f"{name}: expected {expected.__name__}, got a boolean {value!r}")
    if not isinstance(value, expected):
        hint = ""
        if expected is float and isinstance(value, str):
            hint = (" (YAML reads 3e-4 as a string: write it with a dot, 3.0e-4, "
                    "or pass it with papermill -p)")
        raise ParameterError(f"{name}: expected {expected.__name__}, got "
                             f"{type(value).__name__} {value!r}{hint}")
    return value


def check_params(namespace: Mapping[str, Any]) -> StudyParams:
    """Build :class:`StudyParams` from a notebook's globals, refusing unknown keys and wrong types.

    Call it in the cell right after the ``parameters`` cell (``check_params(globals())``):
    at that point the namespace holds only the declared defaults and papermill's injections.
    """
    fields = {f.name: f for f in dataclasses.fields(StudyParams)}
    types = {"str": str, "int": int, "float": float, "list": list}
    values: dict[str, Any] = {}
    unknown = []
    for name, value in namespace.items():
        if name.startswith("_") or name in _IPYTHON_NAMES or not isinstance(value, _PARAMETER_TYPES):
            continue
        if name not in fields:
            unknown.append(name)
            continue
        values[name] = _check_type(name, value, types[str(fields[name].type)])
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, fields, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ParameterError(f"unknown parameter(s) {', '.join(hints)}; known parameters: "
                             f"{', '.join(fields)}. Fix the YAML file or the -p option.")
    return StudyParams(**values).validate()


def set_threads(threads: int) -> None:
    """Set torch's intra-op threads (0 leaves torch's default)."""
    if threads > 0:
        torch.set_num_threads(threads)


def flush_denormals() -> None:
    """Make the CPU treat subnormal floats (|x| < 1.2e-38) as zero.

    Why: Adam's first moments of weights whose gradient is always zero (MNIST's blank border
    pixels, dead ReLUs) decay geometrically through the subnormal range, where x86 arithmetic
    runs on a slow microcode path. In the first full run a quarter of the first layer's moments
    were subnormal by epoch 17 and epochs slowed from 25 s to 60-80 s; values that small change
    nothing in the results. A process-wide setting, so it is made by `train`, not at import.
    """
    torch.set_flush_denormal(True)


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message names the epoch and step."""


@dataclass
class TrainConfig:
    """What the trainer needs to know; the model itself is built from ``arch``/``init``."""

    arch: str
    latent_dim: int = 64
    init: str = "default"
    lr: float = 3e-4
    epochs: int = 100
    batch_size: int = 16
    seed: int = 0
    eval_batch_size: int = 1000
    # The validation ELBO uses fresh noise from this fixed seed each epoch, so it is comparable
    # across epochs and never advances the training RNG (which keeps resumed runs exact).
    eval_seed: int = 1234
    # A host sync to look for NaN costs time at batch 16, so losses are checked every N steps
    # (and at the end of every epoch); the error still names the first bad step exactly.
    check_every: int = 500

    @classmethod
    def from_params(cls, p: StudyParams) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in p.as_dict().items() if k in names})


@dataclass
class History:
    """Per-epoch learning curves (ELBO in nats per image, higher is better)."""

    epoch: list[int] = field(default_factory=list)
    train_elbo: list[float] = field(default_factory=list)
    val_elbo: list[float] = field(default_factory=list)
    val_log_lik: list[float] = field(default_factory=list)
    val_kl: list[float] = field(default_factory=list)
    decoder_std: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def append(self, **row: float) -> None:
        for key, value in row.items():
            getattr(self, key).append(value)

    def as_dict(self) -> dict[str, list]:
        return dataclasses.asdict(self)


def make_optimizer(model: nn.Module, lr: float, device: torch.device) -> torch.optim.Optimizer:
    """Adam; the fused implementation (one kernel for all parameters) where the device has it."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=lr, foreach=True)


# `Optimizer.step()` spends ≈ 0.15–0.3 ms of Python per call regrouping the parameters by device
# and dtype, reading hyper-parameters and incrementing each step counter, before its one
# `_fused_adam_` kernel; at batch 16 that is up to a fifth of a vanilla step. The trainer
# gathers the lists once per epoch and calls the same kernel itself: the arithmetic is the
# optimiser's own, on the optimiser's own state tensors, so the numbers and the checkpoints are
# unchanged (tests/test_train.py checks bit-for-bit equality with `optimizer.step()`).

def fused_adam_stepper(optimizer: torch.optim.Optimizer) -> Callable[[], None] | None:
    """A function doing exactly what ``optimizer.step()`` does for a fused Adam whose state exists.

    ``None`` when the shortcut does not apply — not a fused Adam (e.g. the foreach fallback of
    :func:`make_optimizer`), state not created yet (before the first step), several parameter
    groups, AMSGrad, weight decay, ``maximize`` or a tensor lr — and the caller uses ``step()``.
    The hyper-parameters are read here, once: make a new stepper after changing the lr.
    """
    if type(optimizer) is not torch.optim.Adam or len(optimizer.param_groups) != 1:
        return None
    group = optimizer.param_groups[0]
    if (not group.get("fused") or group["amsgrad"] or group["weight_decay"] or group["maximize"]
            or isinstance(group["lr"], Tensor) or not hasattr(torch, "_fused_adam_")):
        return None
    params = [p for p in group["params"] if p.grad is not None]
    states = [optimizer.state.get(p) for p in params]
    if not params or any(not s for s in states):
        return None
    counts = torch.stack([s["step"] for s in states])
    if not bool((counts == counts[0]).all()):
        return None
    # Adam keeps one step counter per parameter; here they always move together, so they become
    # views of one tensor and a step increments them with one add instead of one per parameter
    # (CPU's _foreach_add_ loops over them). Same values in the optimiser's state and checkpoints.
    for i, s in enumerate(states):
        s["step"] = counts[i]
    steps = [s["step"] for s in states]
    grads = [p.grad for p in params]
    exp_avgs = [s["exp_avg"] for s in states]
    exp_avg_sqs = [s["exp_avg_sq"] for s in states]
    (beta1, beta2), lr, eps = group["betas"], group["lr"], group["eps"]

    def step() -> None:
        counts.add_(1)
        torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False,
                           lr=lr, beta1=beta1, beta2=beta2, weight_decay=0.0, eps=eps,
                           maximize=False, grad_scale=None, found_inf=None)
    return step


def _train_epoch(model: VAE, optimizer: torch.optim.Optimizer, x: Tensor, batch_size: int,
                 perm_gen: torch.Generator, noise_gen: torch.Generator, epoch: int,
                 check_every: int) -> float:
    """One pass over ``x [N, 784]`` in shuffled batches; returns the mean training ELBO.

    Batches are index slices of a per-epoch permutation of the in-memory tensor (no DataLoader).
    Per-step ELBOs are written into a preallocated tensor so the loop never waits on the host.
    """
    model.train()
    n = len(x)
    perm = torch.randperm(n, generator=perm_gen).to(x.device)
    n_steps = math.ceil(n / batch_size)
    elbo_sums = torch.zeros(n_steps, device=x.device)
    allocate_grads(model)
    # None before the optimiser's first step (which creates its state) and when not applicable
    adam_step = fused_adam_stepper(optimizer) or optimizer.step
    for step in range(n_steps):
        # index_select, not x[idx]: the same rows, 3-5x faster than advanced indexing
        xb = torch.index_select(x, 0, perm[step * batch_size:(step + 1) * batch_size])
        elbo = elbo_step(model, xb, noise_gen)      # writes the gradients; no autograd graph
        adam_step()
        if step == 0:
            adam_step = fused_adam_stepper(optimizer) or optimizer.step
        torch.sum(elbo, 0, out=elbo_sums[step])
        if (step + 1) % check_every == 0 or step == n_steps - 1:
            _raise_if_not_finite(elbo_sums[: step + 1], epoch, batch_size)
    return float(elbo_sums.sum()) / n


def _raise_if_not_finite(elbo_sums: Tensor, epoch: int, batch_size: int) -> None:
    bad = ~torch.isfinite(elbo_sums)
    if bool(bad.any()):
        step = int(bad.nonzero()[0])
        raise NonFiniteLossError(
            f"training loss became non-finite at epoch {epoch}, step {step} (batch size "
            f"{batch_size}); the checkpoint of the last good epoch was kept. Try a lower lr or "
            f"a larger batch size.")


def _rng_state(perm_gen: torch.Generator, noise_gen: torch.Generator) -> dict[str, Tensor]:
    return {"perm": perm_gen.get_state(), "noise": noise_gen.get_state(),
            "torch": torch.get_rng_state()}


def _set_rng_state(state: Mapping[str, Tensor], perm_gen: torch.Generator,
                   noise_gen: torch.Generator) -> None:
    perm_gen.set_state(state["perm"])
    noise_gen.set_state(state["noise"])
    torch.set_rng_state(state["torch"])


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`train` (``weights_only=True``: no code is unpickled)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist; run the training notebook "
                                f"(01-train) for this architecture and run first")
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged zip
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"checkpoint {path} is unreadable ({first_line}); "
                        f"delete it and retrain") from exc


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[VAE, dict]:
    """The trained model of a checkpoint (in eval mode) and the checkpoint's metadata."""
    ckpt = load_checkpoint(path, device)
    cfg = ckpt["config"]
    model = build_model(cfg["arch"], cfg["latent_dim"], cfg["init"]).to(device)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, ckpt


# Keys that may change between a run and its resumption without changing its numbers: more
# epochs extend the run; how often NaN is looked for does not touch the arithmetic.
_RESUMABLE_KEYS = {"epochs", "check_every"}


def train(config: TrainConfig, train_x: Tensor, val_x: Tensor, checkpoint: str | os.PathLike,
          device: torch.device | str = "cpu", meta: Mapping[str, Any] | None = None,
          progress: bool = True,
          on_epoch_end: Callable[[int, History], None] | None = None) -> tuple[VAE, History]:
    """Train a VAE, checkpointing every epoch; resume from ``checkpoint`` if it exists.

    ``train_x [N, 784]``, ``val_x [M, 784]``. The checkpoint holds the model, optimiser, RNG
    states, history, config, ``meta`` (parameters, commit, versions) and is replaced atomically,
    so a run killed at any point resumes from its last finished epoch and reproduces the
    uninterrupted run's numbers exactly. A checkpoint from a different config is refused.
    ``on_epoch_end(epoch, history)`` is called after each checkpoint (e.g. to stop early in tests).
    """
    from tqdm import tqdm   # a text bar: reads the same in papermill's logs and in JupyterLab

    device = torch.device(device)
    checkpoint = Path(checkpoint)
    flush_denormals()
    torch.manual_seed(config.seed)
    model = build_model(config.arch, config.latent_dim, config.init).to(device)
    optimizer = make_optimizer(model, config.lr, device)
    perm_gen = torch.Generator().manual_seed(config.seed)
    noise_gen = torch.Generator(device=device).manual_seed(config.seed + 1)
    history = History()
    cfg = dataclasses.asdict(config)
    if checkpoint.exists():
        ckpt = load_checkpoint(checkpoint, device)
        changed = {k: (ckpt["config"].get(k), v) for k, v in cfg.items()
                   if k not in _RESUMABLE_KEYS and ckpt["config"].get(k) != v}
        if changed:
            raise ValueError(f"checkpoint {checkpoint} was written with a different config "
                             f"(key: (checkpoint, now) = {changed}); delete it to train afresh")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        _set_rng_state(ckpt["rng"], perm_gen, noise_gen)
        history = History(**ckpt["history"])
    x = train_x.to(device)
    xv = val_x.to(device)
    start = len(history.epoch)
    bar = tqdm(range(start, config.epochs), initial=start, total=config.epochs,
               desc=config.arch, unit="epoch", disable=not progress)
    for epoch in bar:
        t0 = time.perf_counter()
        train_elbo = _train_epoch(model, optimizer, x, config.batch_size, perm_gen, noise_gen,
                                  epoch, config.check_every)
        seconds = time.perf_counter() - t0
        val = evaluate_elbo(model, xv, config.eval_batch_size, seed=config.eval_seed)
        history.append(epoch=epoch + 1, train_elbo=train_elbo, val_elbo=val["elbo"],
                       val_log_lik=val["log_lik"], val_kl=val["kl"],
                       decoder_std=float(model.decoder_std.detach()), seconds=seconds)
        atomic_torch_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                           "rng": _rng_state(perm_gen, noise_gen), "history": history.as_dict(),
                           "config": cfg, "meta": json.loads(json.dumps(meta or {}))},
                          checkpoint)
        bar.set_postfix(train=f"{train_elbo:.1f}", val=f"{val['elbo']:.1f}",
                        s_per_epoch=f"{seconds:.1f}")
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, history)
    model.eval()
    return model, history


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------

def _batches(x: Tensor, batch_size: int) -> Iterator[Tensor]:
    for i in range(0, len(x), batch_size):
        yield x[i:i + batch_size]


@torch.no_grad()
def evaluate_elbo(model: VAE, x: Tensor, batch_size: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Mean one-sample ELBO over ``x [N, 784]`` with noise from ``seed`` (deterministic).

    Returns ``elbo``, ``log_lik``, ``kl`` (floats, nats per image) and ``kl_per_dim`` (a list of D
    floats: the KL of each latent dimension averaged over the data, the posterior-collapse view).
    """
    was_training = model.training
    model.eval()
    gen = torch.Generator(device=x.device).manual_seed(seed)
    log_lik = torch.zeros((), dtype=torch.float64, device=x.device)
    kl_per_dim = torch.zeros(model.latent_dim, dtype=torch.float64, device=x.device)
    for xb in _batches(x, batch_size):
        terms = elbo_terms(model, xb, gen)
        log_lik += terms.log_lik.double().sum()
        kl_per_dim += terms.kl_per_dim.double().sum(0)
    model.train(was_training)
    n = len(x)
    kl_per_dim = kl_per_dim / n
    return {"elbo": float(log_lik / n - kl_per_dim.sum()), "log_lik": float(log_lik / n),
            "kl": float(kl_per_dim.sum()), "kl_per_dim": kl_per_dim.tolist()}


#: Latents decoded per batch by the importance-weighted bounds: [2000, 784] float32 is 6 MB, so the
#: element-wise passes after the decoder's last matmul stay in cache (≈ 20 % faster than 10,000).
IWAE_DECODES_PER_BATCH = 2000


def _iwae_log_weights(model: VAE, x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """log p(x, z_k) − log q(z_k|x) for ``k`` draws z_k ~ q(z|x) per image: ``x [B, 784] → [K, B]``."""
    q = model.encode(x)
    eps = torch.randn((k, *q.mean.shape), generator=generator, device=x.device, dtype=x.dtype)
    z = q.mean + q.std * eps                                                   # [K, B, D]
    log_q = (-0.5 * eps.square() - torch.log(q.std) - 0.5 * LOG_2PI).sum(-1)   # [K, B]
    log_prior = (-0.5 * z.square() - 0.5 * LOG_2PI).sum(-1)                    # [K, B]
    mean = model.decode(z.reshape(-1, model.latent_dim)).reshape(k, len(x), -1)
    # gaussian_log_likelihood(x, mean, sigma) written in place on the decoder output: the same
    # sum, without three more [K·B, 784] temporaries.
    std = model.decoder_std
    quad = mean.sub_(x).square_().sum(-1)                                      # [K, B]
    log_lik = -0.5 * quad / std.square() - x.shape[-1] * (torch.log(std) + 0.5 * LOG_2PI)
    return log_lik + log_prior - log_q


@torch.no_grad()
def iwae_log_likelihood(model: VAE, x: Tensor, k: int, batch_size: int | None = None,
                        seed: int = 0) -> Tensor:
    """Importance-weighted bound on log p(x) per image (Burda et al. 2015), ``[N]`` nats.

    log p(x) ≥ E[log (1/K) Σ_k p(x, z_k) / q(z_k|x)], z_k ~ q(z|x). K = 1 is the ELBO; the bound
    tightens as K grows. Computed with logsumexp over ``[K, B]`` log-weights; ``batch_size``
    images at a time (default: about ``IWAE_DECODES_PER_BATCH`` latents per batch).
    """
    gen = torch.Generator(device=x.device).manual_seed(seed)
    batch_size = batch_size or max(1, IWAE_DECODES_PER_BATCH // k)
    return torch.cat([torch.logsumexp(_iwae_log_weights(model, xb, k, gen), dim=0) - math.log(k)
                      for xb in _batches(x, batch_size)])


def nats_to_bits_per_dim(nats: float, dims: int = IMAGE_PIXELS) -> float:
    """Convert a log-likelihood in nats per image to bits per pixel (negated: lower is better).

    For continuous pixel densities this can be negative; it is comparable between our models only.
    """
    return -nats / (dims * math.log(2))


@torch.no_grad()
def posterior_means(model: VAE, x: Tensor, batch_size: int = 1000) -> Tensor:
    """E_q[z|x] for every image: ``[N, 784] → [N, D]``."""
    return torch.cat([model.encode(xb).mean for xb in _batches(x, batch_size)])


@torch.no_grad()
def active_units(model: VAE, x: Tensor, threshold: float = 0.01,
                 batch_size: int = 1000) -> tuple[int, Tensor]:
    """Active latent units (Burda et al. 2015): A_u = Cov_x(E_q[z_u|x]) > threshold.

    Returns the number of active units and the per-unit activity ``[D]``.
    """
    activity = posterior_means(model, x, batch_size).var(dim=0)
    return int((activity > threshold).sum()), activity


@torch.no_grad()
def reconstruct(model: VAE, x: Tensor) -> Tensor:
    """Decoder mean at the posterior mean: ``[B, 784] → [B, 784]``, pixels in [0, 1]."""
    return model.decode(model.encode(x).mean)


@torch.no_grad()
def sample_prior(model: VAE, n: int, seed: int = 0, device: str | torch.device = "cpu") -> Tensor:
    """Decoder means of ``n`` latents drawn from N(0, I): ``[n, 784]`` in [0, 1]."""
    gen = torch.Generator(device=device).manual_seed(seed)
    z = torch.randn(n, model.latent_dim, generator=gen, device=device)
    return model.decode(z)


@dataclass
class ChainResult:
    """Frames of the chain x → z ~ q(z|x) → x ~ p(x|z).

    ``samples [T+1, B, 784]``: the chain's states, frame 0 the starting images (not clipped, so a
    diverging chain shows as it is). ``means [T, B, 784]``: the decoder mean at each step's z.
    """

    samples: Tensor
    means: Tensor

    def diagnostics(self) -> dict[str, Any]:
        """Whether the chain stayed finite and how far its states leave [0, 1]."""
        s = self.samples
        finite = torch.isfinite(s)
        return {"finite": bool(finite.all()),
                "first_nonfinite_step": (int((~finite).flatten(1).any(1).nonzero()[0])
                                         if not bool(finite.all()) else None),
                "final_mean_pixel": float(torch.nan_to_num(s[-1]).mean()),
                "final_fraction_saturated": float((torch.nan_to_num(s[-1], nan=1.0) >= 1.0)
                                                  .float().mean())}


@torch.no_grad()
def markov_chain(model: VAE, x0: Tensor, steps: int = 100, seed: int = 0) -> ChainResult:
    """Run the chain ``x → z ~ q(z|x) → x ~ p(x|z)`` for ``steps`` steps from ``x0 [B, 784]``.

    Both draws are real samples (no clipping or renormalising of x): the states are exactly the
    Markov chain whose stationary law is the 'limiting distribution' of the seed.
    """
    gen = torch.Generator(device=x0.device).manual_seed(seed)
    samples = [x0]
    means = []
    x = x0
    for _ in range(steps):
        z = model.encode(x).sample(gen)
        mean = model.decode(z)
        eps = torch.randn(mean.shape, generator=gen, device=mean.device, dtype=mean.dtype)
        x = mean + model.decoder_std * eps
        samples.append(x)
        means.append(mean)
    return ChainResult(samples=torch.stack(samples), means=torch.stack(means))


@torch.no_grad()
def iwae_curve(model: VAE, x: Tensor, ks: Sequence[int], seed: int = 0) -> dict[int, float]:
    """Mean importance-weighted bound (nats per image) for each K in ``ks``, on ``x [N, 784]``.

    Shows whether the K used for the report has settled: the bound rises with K towards log p(x).
    One set of K_max = max(ks) draws per image serves every K: the bound for K is the mean of
    its estimates on the ⌊K_max / K⌋ disjoint groups of K draws. Each group is an unbiased
    estimate of the K-sample bound, so the curve is what independent draws per K would give in
    expectation, with less noise for small K, at the cost of one K_max pass instead of Σ K.
    """
    k_max = max(int(k) for k in ks)
    gen = torch.Generator(device=x.device).manual_seed(seed)
    totals = {int(k): 0.0 for k in ks}
    for xb in _batches(x, max(1, IWAE_DECODES_PER_BATCH // k_max)):
        log_w = _iwae_log_weights(model, xb, k_max, gen)                         # [K_max, B]
        for k in totals:
            groups = log_w[:k_max // k * k].reshape(k_max // k, k, len(xb))      # [G, K, B]
            bound = torch.logsumexp(groups, dim=1) - math.log(k)                # [G, B]
            totals[k] += float(bound.mean(0).double().sum())
    return {k: total / len(x) for k, total in totals.items()}


# --------------------------------------------------------------------------------------------
# Sample quality: a small digit classifier as the yardstick
# --------------------------------------------------------------------------------------------

class _ChannelsLastImages(nn.Module):
    """``[B, 784] → [B, 1, 28, 28]`` in channels-last memory order (a module without weights, so
    it keeps the place, and the state-dict keys, of the ``nn.Unflatten`` it replaced)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(-1, 1, 28, 28).contiguous(memory_format=torch.channels_last)


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
        self.body = nn.Sequential(
            _ChannelsLastImages(),                                         # [B, 1, 28, 28]
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # [B, 32, 14, 14]
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # [B, 64, 7, 7]
            nn.Flatten(), nn.Linear(64 * 7 * 7, self.feature_dim), nn.ReLU())
        self.head = nn.Linear(self.feature_dim, 10)
        # channels-last convolutions are oneDNN's native layout on CPU: classifying 10k images
        # on one thread took 1.1–1.4 s (batches of 100–500) instead of 2.8–3.8 s in NCHW.
        self.to(memory_format=torch.channels_last)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
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


def classifier_accuracy(net: DigitClassifier, x: Tensor, y: Tensor, batch_size: int = 200) -> float:
    """Fraction of ``x [N, 784]`` whose predicted class equals ``y [N]`` (the network has no
    dropout or batch norm, so train and eval mode predict alike)."""
    return float((classify(net, x, batch_size)["classes"] == y).float().mean())


def train_classifier(config: ClassifierConfig, x: Tensor, y: Tensor, val_x: Tensor, val_y: Tensor,
                     path: str | os.PathLike, device: str | torch.device = "cpu",
                     ) -> tuple[DigitClassifier, dict[str, Any]]:
    """Train :class:`DigitClassifier` on ``x [N, 784]``, ``y [N]``, or load it from ``path``.

    The weights are cached at ``path`` with the config and the validation accuracy per epoch;
    a cache made with another config is retrained, not silently reused.
    """
    path = Path(path)
    if path.exists():
        saved = torch.load(path, map_location=device, weights_only=True)
        if saved.get("config") == dataclasses.asdict(config):
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
    saved = torch.load(path, map_location=device, weights_only=True)
    if saved.get("config", {}).get("design") != DigitClassifier.design:
        raise DataError(f"the digit classifier at {path} was trained for another design; rerun "
                        f"notebooks/00-classifier.ipynb (`make report` does it) to retrain it")
    net = DigitClassifier().to(device)
    net.load_state_dict(saved["model"])
    return net.eval()


def _finite_pixels(x: Tensor) -> Tensor:
    """NaN and +inf pixels as 1 (white, like a saturated chain), -inf as 0."""
    return torch.nan_to_num(x, nan=1.0, posinf=1.0, neginf=0.0)


@torch.no_grad()
def classify(net: DigitClassifier, x: Tensor, batch_size: int = 200) -> dict[str, Tensor]:
    """Classes ``[N]``, confidences (max softmax) ``[N]`` and features ``[N, 128]`` of ``x [N, 784]``.

    Non-finite pixels (a diverged chain) are set to 1 first, so they get a label, not an error.
    """
    x = _finite_pixels(x)
    feats = torch.cat([net.features(xb) for xb in _batches(x, batch_size)])
    probs = torch.softmax(net.head(feats), dim=1)
    conf, cls = probs.max(1)
    return {"classes": cls, "confidence": conf, "features": feats}


def frechet_distance(a: Tensor, b: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to feature sets ``a [N, F]`` and ``b [M, F]``.

    ‖μa − μb‖² + tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½), in float64; the matrix square roots come from
    symmetric eigendecompositions (no scipy needed), eigenvalues clipped at 0 against round-off.
    """
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    vals, vecs = torch.linalg.eigh(cov_a)
    sqrt_a = (vecs * vals.clamp(min=0).sqrt()) @ vecs.T
    middle = torch.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a).clamp(min=0).sqrt().sum()
    return float((mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * middle)


@torch.no_grad()
def nearest_distance(x: Tensor, reference: Tensor, batch_size: int = 4096) -> Tensor:
    """Euclidean pixel distance of each row of ``x [N, 784]`` to its nearest row of ``reference``:
    ``[N]``. Non-finite pixels count as 1."""
    x = _finite_pixels(x)
    best = torch.full((len(x),), float("inf"), device=x.device)
    for rb in _batches(reference, batch_size):
        best = torch.minimum(best, torch.cdist(x, rb).min(1).values)
    return best


def chain_mixing(chain: ChainResult, classifier: DigitClassifier, reference: Tensor) -> dict[str, Any]:
    """How the chain moves between digits, frame by frame, judged by ``classifier``.

    Frames are those of the animation: the start images, then the decoder mean of each step,
    ``[T+1, B, 784]``. Returns per chain and frame (lists ``[B][T+1]``) the class, the
    classifier's confidence and the pixel distance to the nearest row of ``reference [M, 784]``
    (the training images), plus summaries: class changes per chain and the fraction of chains
    whose last frame has another class than the start image.
    """
    frames = torch.cat([chain.samples[:1], chain.means])                   # [T+1, B, 784]
    n_frames, n_chains = frames.shape[:2]
    judged = classify(classifier, frames.flatten(0, 1))
    classes = judged["classes"].reshape(n_frames, n_chains).T               # [B, T+1]
    confidence = judged["confidence"].reshape(n_frames, n_chains).T
    distance = nearest_distance(frames.flatten(0, 1), reference).reshape(n_frames, n_chains).T
    switches = (classes[:, 1:] != classes[:, :-1]).sum(1).float()         # [B]
    return {"frame_classes": classes.tolist(), "frame_confidence": confidence.tolist(),
            "frame_nn_distance": distance.tolist(),
            "class_switches_per_chain": float(switches.mean()),
            "fraction_final_class_changed": float((classes[:, -1] != classes[:, 0]).float().mean()),
            "final_mean_confidence": float(confidence[:, -1].mean()),
            "final_mean_nn_distance": float(distance[:, -1].mean()),
            "start_mean_nn_distance": float(distance[:, 0].mean())}


def image_grid(images: Tensor, nrow: int, pad: int = 2, pad_value: float = 1.0) -> Tensor:
    """Tile ``[N, 784]`` images into one ``[H, W]`` array (clipped to [0, 1], NaN shown as 1)."""
    imgs = torch.nan_to_num(images.detach().float().cpu(), nan=1.0).clamp(0, 1)
    imgs = imgs.reshape(-1, 1, 28, 28)
    ncol = nrow
    nrows = math.ceil(len(imgs) / ncol)
    h = nrows * 28 + (nrows + 1) * pad
    w = ncol * 28 + (ncol + 1) * pad
    grid = torch.full((h, w), pad_value)
    for i, img in enumerate(imgs):
        r, c = divmod(i, ncol)
        top, left = pad + r * (28 + pad), pad + c * (28 + pad)
        grid[top:top + 28, left:left + 28] = img[0]
    return grid


# --------------------------------------------------------------------------------------------
# Notebook plumbing: what every notebook of the study does first, and its artifacts
# --------------------------------------------------------------------------------------------

def start_notebook(namespace: Mapping[str, Any]) -> tuple[StudyParams, torch.device]:
    """Validate a notebook's parameters, set threads, pick the device, create its output folder.

    Call as ``P, device = vc.start_notebook(globals())`` right after the parameters cell.
    """
    params = check_params(namespace)
    set_threads(params.threads)
    device = pick_device(params.device)
    params.out_dir.mkdir(parents=True, exist_ok=True)
    return params, device


def subset(x: Tensor, n: int) -> Tensor:
    """The first ``n`` rows of ``x`` (all of them when ``n`` is 0)."""
    return x if n == 0 else x[:n]


def study_data(params: StudyParams) -> MNISTSplits:
    """MNIST as the parameters ask: the split of ``split_seed``, cut to the profile's subsets."""
    d = load_mnist(_project_path(params.data_dir), params.mnist_source or None,
                   params.val_split, params.split_seed)
    return MNISTSplits(
        train=subset(d.train, params.train_subset), train_labels=subset(d.train_labels, params.train_subset),
        val=subset(d.val, params.eval_subset), val_labels=subset(d.val_labels, params.eval_subset),
        test=subset(d.test, params.eval_subset), test_labels=subset(d.test_labels, params.eval_subset))


def save_metrics(params: StudyParams, name: str, metrics: Mapping[str, Any],
                 folder: Path | None = None) -> Path:
    """Write ``<folder>/<name>.json`` (default the cell's ``out_dir``): the metrics plus
    parameters, git commit and versions."""
    path = (folder or params.out_dir) / f"{name}.json"
    write_json({**metrics, "provenance": provenance(params.as_dict())}, path)
    return path


def to_uint8_images(images: Tensor) -> "Any":
    """``[N, 784]`` floats → ``[N, 28, 28]`` uint8 numpy (clipped; NaN shown white)."""
    x = torch.nan_to_num(images.detach().float().cpu(), nan=1.0).clamp(0, 1)
    return (x.reshape(-1, 28, 28) * 255).round().to(torch.uint8).numpy()


def grid_uint8(images: Tensor, nrow: int, scale: int = 1) -> "Any":
    """:func:`image_grid` as uint8 numpy, optionally enlarged ``scale`` times (nearest)."""
    grid = image_grid(images, nrow=nrow)
    if scale > 1:
        grid = grid.repeat_interleave(scale, 0).repeat_interleave(scale, 1)
    return (grid * 255).round().to(torch.uint8).numpy()


def filmstrip_steps(n_steps: int) -> list[int]:
    """Chain steps shown in a filmstrip: dense at the start, where the chain moves most."""
    picks = [0, 1, 2, 3, 5, 10, 20, 30, 50, 75, 100, 150, 200]
    return [s for s in picks if s < n_steps] + [n_steps]


def save_chain_animation(chain: ChainResult, gif_path: str | os.PathLike,
                         filmstrip_path: str | os.PathLike, nrow: int = 4,
                         frame_ms: int = 100, strip_chains: int = 4) -> None:
    """The chain as an animated GIF (all chains, one frame per step, looping) and a PNG filmstrip
    (``strip_chains`` chains as rows, :func:`filmstrip_steps` as columns).

    Frames show the start images, then the decoder mean of each step's z: the chain's states add
    pixel noise of the decoder's sigma on top, which would make every frame a different speckle
    (and the GIFs ten times larger) without showing where the chain goes.
    """
    import imageio.v3 as iio

    frames = torch.cat([chain.samples[:1], chain.means])              # [T+1, B, 784]
    # 16 grey levels instead of 256 make the GIF ~3x smaller at no visible cost; the report
    # embeds 14 of them.
    gif = [(torch.from_numpy(grid_uint8(f, nrow=nrow)).float() / 17).round().mul(17)
           .to(torch.uint8).numpy() for f in frames]
    iio.imwrite(gif_path, gif, extension=".gif", duration=frame_ms, loop=0)
    steps = filmstrip_steps(len(frames) - 1)
    k = min(strip_chains, frames.shape[1])
    strip = frames[steps, :k].transpose(0, 1).reshape(-1, IMAGE_PIXELS)   # a row per chain
    iio.imwrite(filmstrip_path, grid_uint8(strip, nrow=len(steps)), extension=".png")


# --------------------------------------------------------------------------------------------
# Report: gathering the cells' artifacts and showing them in both HTML and PDF
# --------------------------------------------------------------------------------------------

#: The two training runs of the seed, in report order.
RUNS: dict[str, str] = {"original": "run A (original: batch 16, default init)",
                        "retrained": "run B (retrained: batch 64, Kaiming init)"}

CELL_STEPS = ("01-train", "02-elbo", "03-collapse", "04-samples", "05-chain")


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(Path(path).read_text()) or {}


def study_parameters(profile: str, run: str) -> dict[str, Any]:
    """The merged parameter files of one run and profile, as papermill merges them."""
    params = _project_path("params")
    return {**read_yaml(params / "base.yaml"), **read_yaml(params / "runs" / f"{run}.yaml"),
            **read_yaml(params / "profiles" / f"{profile}.yaml")}


def load_cell(profile: str, run: str, arch: str, reports_dir: str = "reports",
              seed: int = 0) -> dict[str, Any]:
    """Everything one (run, seed, arch) cell wrote: its JSON metrics by step, history, arrays.

    A missing artifact raises an error naming the cell and the command that makes it.
    """
    import numpy as np
    import pandas as pd

    folder = _project_path(reports_dir) / profile / cell_folder(run, seed, arch)
    needed = [f"{s}.json" for s in CELL_STEPS] + ["history.csv", "reconstructions.npy",
                                                  "originals.npy", "samples.npy", "chain.gif",
                                                  "chain-filmstrip.png"]
    missing = [n for n in needed if not (folder / n).exists()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}; run `make report "
                                f"PROFILE={profile}` (or `make cells PROFILE={profile}`) first")
    cell: dict[str, Any] = {s: json.loads((folder / f"{s}.json").read_text()) for s in CELL_STEPS}
    cell["history"] = pd.read_csv(folder / "history.csv")
    for name in ("reconstructions", "originals", "samples"):
        cell[name] = np.load(folder / f"{name}.npy")
    cell["gif"] = folder / "chain.gif"
    cell["filmstrip"] = folder / "chain-filmstrip.png"
    cell["folder"] = folder
    return cell


def show_table(df: "Any", caption: str, float_format: str = "{:.2f}", index: bool = True) -> None:
    """Show a DataFrame as an HTML table in the HTML and a LaTeX table in the PDF."""
    from IPython.display import Markdown, display

    display(Markdown(caption))
    fmt = (lambda v: float_format.format(v))
    html = df.to_html(float_format=fmt, index=index, na_rep="–", border=0)
    # wide tables shrink to the page width in the PDF instead of running off it
    latex = ("\\begin{adjustbox}{max width=\\linewidth}\n"
             + df.to_latex(float_format=fmt, index=index, na_rep="--", escape=True,
                           multirow=False)       # \multirow needs a package the template lacks
             + "\\end{adjustbox}\n")
    display({"text/html": html, "text/latex": latex, "text/plain": df.to_string()}, raw=True)


def show_figure(fig: "Any", path: str | os.PathLike, caption: str, dpi: int = 90) -> None:
    """Save a matplotlib figure as ``path`` (named after the figure) and show it with a caption."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    display({"image/png": _b64(path.read_bytes())}, raw=True)
    display(Markdown(caption))


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


def show_animations(items: Sequence[tuple[str, Path]], filmstrip_png: bytes, caption: str) -> None:
    """GIFs for the HTML (``<img>`` with data URIs: nbconvert's HTML drops ``image/gif`` outputs)
    and a PNG filmstrip in the same output for the PDF, which cannot play them."""
    from IPython.display import Markdown, display

    cells = "".join(
        f'<figure style="display:inline-block;margin:4px;text-align:center">'
        f'<img alt="chain of {label}" src="data:image/gif;base64,{_b64(Path(gif).read_bytes())}"'
        f' style="width:180px;image-rendering:pixelated"/>'
        f'<figcaption style="font-size:80%">{label}</figcaption></figure>'
        for label, gif in items)
    display({"text/html": f'<div class="chains">{cells}</div>', "image/png": _b64(filmstrip_png)},
            raw=True)
    display(Markdown(caption))
