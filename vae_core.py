"""Gaussian VAEs on MNIST: the architectures, the model and the one definition of the ELBO.

Everything else — data, training, the fast training step, evaluation, the digit classifier,
parameters, the report — lives in the ``vae_report`` package beside this file and builds on the
definitions here. Importing this module has no side effects: no data is loaded, no argument is
parsed, no global RNG is touched.

Conventions
-----------
* Images are flattened float32 tensors ``[B, 784]`` with pixels in ``[0, 1]`` (not standardised).
* The ELBO is in nats per image: summed over the 784 pixels and the latent dimensions, averaged
  over the batch, *higher is better*. The Gaussian log-likelihood includes its normalising
  constant. Terms are named (:class:`ELBOTerms`), never read from a tuple by position.
* Every function that draws random numbers takes an explicit ``torch.Generator``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: name -> encoder hidden sizes; the decoder uses them reversed (the seed's Table 2).
ARCHS: dict[str, list[int]] = {
    "vanilla": [],
    "deep-128": [128],
    "deep-256": [256],
    "deep-512": [512],
    "deep-256-128": [256, 128],
    "deep-512-256": [512, 256],
    "deep-512-256-128": [512, 256, 128],
}

IMAGE_SIDE = 28
IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE
LOG_2PI = math.log(2 * math.pi)

Init = Literal["default", "kaiming"]
INITS: tuple[str, ...] = ("default", "kaiming")
DecoderSigma = Literal["softplus", "exp"]
#: how the decoder's sigma is parameterised: ``softplus`` (the study's: floored, cannot overflow)
#: or ``exp`` (the seed's own sigma = exp(log sigma), no floor: the seed-faithful variant)
DECODER_SIGMAS: tuple[str, ...] = ("softplus", "exp")
EncoderStd = Literal["softplus", "exp"]
#: how the encoder's standard deviations are parameterised: ``softplus`` (the study's: std =
#: floor + softplus(raw), cannot reach 0 or overflow) or ``exp`` (the seed's "as hinted on the
#: website": the head predicts log-variance, std = exp(½·logvar), no floor — the seed-faithful
#: variant, whose std can underflow to 0 or overflow to inf on inputs far from the data)
ENCODER_STDS: tuple[str, ...] = ("softplus", "exp")


def arch_layers(arch: str, latent: str | int = "z") -> str:
    """The seed's Table 2 notation for an encoder, e.g. ``784 → 256 → z``."""
    return " → ".join(str(n) for n in [IMAGE_PIXELS, *ARCHS[arch], latent])


# --------------------------------------------------------------------------------------------
# The sigma parameterisation
# --------------------------------------------------------------------------------------------
# Floors for the two standard deviations. softplus grows linearly, so std = floor + softplus(raw)
# can neither overflow (exp of a large log-sigma is what sent the seed's sigma to infinity) nor
# reach zero (log sigma -> -inf is what sent its likelihood and its samples to NaN).
ENCODER_STD_FLOOR = 1e-4
DECODER_STD_FLOOR = 1e-3


def positive_std(raw: Tensor, floor: float) -> Tensor:
    """Map an unconstrained tensor to a standard deviation in ``(floor, inf)`` without overflow."""
    return F.softplus(raw) + floor


def inverse_positive_std(std: float, floor: float) -> float:
    """The raw value that :func:`positive_std` maps to ``std`` (used to initialise sigma = 1)."""
    y = std - floor
    return y + math.log(-math.expm1(-y))


def encoder_std(raw: Tensor, kind: str = "softplus") -> Tensor:
    """The encoder's standard deviations from its head's raw half ``[..., D]``: ``ENCODER_STD_FLOOR
    + softplus(raw)``, or the seed's ``exp(½·raw)`` (raw = log-variance, no floor) for ``"exp"``."""
    return torch.exp(0.5 * raw) if kind == "exp" else positive_std(raw, ENCODER_STD_FLOOR)


def encoder_std_slope(raw: Tensor, std: Tensor, kind: str = "softplus") -> Tensor:
    """d std / d raw of :func:`encoder_std` (``std`` its value): ``½·std`` for ``exp``,
    ``sigmoid(raw)`` otherwise. The fast step's chain rule."""
    return 0.5 * std if kind == "exp" else torch.sigmoid(raw)


def decoder_std(raw: Tensor, kind: str = "softplus") -> Tensor:
    """The decoder's sigma from its raw parameter (any shape): ``DECODER_STD_FLOOR +
    softplus(raw)``, or the seed's ``exp(raw)`` (raw = log sigma, no floor) for ``kind="exp"``."""
    return torch.exp(raw) if kind == "exp" else positive_std(raw, DECODER_STD_FLOOR)


def decoder_std_slope(raw: Tensor, std: Tensor, kind: str = "softplus") -> Tensor:
    """d sigma / d raw of :func:`decoder_std` (``std`` its value): sigma itself for ``exp``,
    ``sigmoid(raw)`` (softplus' derivative) otherwise. The fast step's chain rule."""
    return std if kind == "exp" else torch.sigmoid(raw)


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------

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

    def sample(self, generator: torch.Generator | None = None, eps: Tensor | None = None) -> Tensor:
        """Reparameterised draw ``z = mean + std * eps``, ``[B, D]``; ``eps`` drawn from
        ``generator`` unless given (standard normal, ``[B, D]``)."""
        if eps is None:
            eps = torch.randn(self.mean.shape, generator=generator, device=self.mean.device,
                              dtype=self.mean.dtype)
        return self.mean + self.std * eps


class VAE(nn.Module):
    """MLP VAE with a diagonal Gaussian encoder and a Gaussian decoder with one learned scalar sigma.

    Encoder: ``784 → hidden… → 2·D`` (ReLU between layers); the last layer gives the mean and the
    raw std of q(z|x) in one matrix multiply (same parameter count as two heads, one op fewer).
    Decoder: ``D → reversed(hidden)… → 784``; its output goes through a sigmoid, so the pixel means
    live in ``[0, 1]`` like the data. One scalar sigma is shared by all pixels.

    Parameter count = the seed's Table 2 exactly (the extra 1 is the decoder's sigma), whichever
    ``decoder_sigma`` (:data:`DECODER_SIGMAS`) and ``encoder_std`` (:data:`ENCODER_STDS`)
    parameterise the two standard deviations.
    """

    def __init__(self, hidden: Sequence[int], latent_dim: int = 64, init: Init = "default",
                 decoder_sigma: DecoderSigma = "softplus",
                 encoder_std: EncoderStd = "softplus") -> None:
        super().__init__()
        if init not in INITS:
            raise ValueError(f"init must be 'default' or 'kaiming', got {init!r}")
        if decoder_sigma not in DECODER_SIGMAS:
            raise ValueError(f"decoder_sigma must be one of {', '.join(DECODER_SIGMAS)}, "
                             f"got {decoder_sigma!r}")
        if encoder_std not in ENCODER_STDS:
            raise ValueError(f"encoder_std must be one of {', '.join(ENCODER_STDS)}, "
                             f"got {encoder_std!r}")
        self.hidden = list(hidden)
        self.latent_dim = latent_dim
        self.decoder_sigma = decoder_sigma
        self.encoder_std = encoder_std
        enc_sizes = [IMAGE_PIXELS, *self.hidden]
        dec_sizes = [latent_dim, *reversed(self.hidden)]
        self.encoder = mlp(enc_sizes)
        self.encoder_head = nn.Linear(enc_sizes[-1], 2 * latent_dim)
        self.decoder = mlp(dec_sizes)
        self.decoder_head = nn.Linear(dec_sizes[-1], IMAGE_PIXELS)
        # sigma = decoder_std(raw), initialised to sigma = 1 (raw = log 1 = 0 under exp)
        self.decoder_raw_std = nn.Parameter(torch.tensor(
            0.0 if decoder_sigma == "exp" else inverse_positive_std(1.0, DECODER_STD_FLOOR)))
        if init == "kaiming":
            self.apply(_kaiming_init)

    def encode(self, x: Tensor) -> Posterior:
        """``x [B, 784]`` → q(z|x) with ``mean, std [B, D]``."""
        mean, raw_std = self.encoder_head(self.encoder(x)).chunk(2, dim=-1)
        return Posterior(mean, encoder_std(raw_std, self.encoder_std))

    def decode(self, z: Tensor) -> Tensor:
        """``z [B, D]`` → pixel means of p(x|z), ``[B, 784]`` in ``[0, 1]``."""
        return torch.sigmoid(self.decoder_head(self.decoder(z)))

    @property
    def decoder_std(self) -> Tensor:
        """The decoder's scalar sigma (0-dim tensor, part of the graph)."""
        return decoder_std(self.decoder_raw_std, self.decoder_sigma)

    def sigma(self) -> float:
        """The decoder's sigma as a plain number (for tables; no graph, no warning)."""
        return float(self.decoder_std.detach())


def _kaiming_init(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        nn.init.zeros_(module.bias)


def build_model(arch: str, latent_dim: int = 64, init: str = "default",
                decoder_sigma: str = "softplus", encoder_std: str = "softplus") -> VAE:
    """The VAE of one of :data:`ARCHS` by name; a clear error for an unknown name."""
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    return VAE(ARCHS[arch], latent_dim=latent_dim, init=init,  # type: ignore[arg-type]
               decoder_sigma=decoder_sigma, encoder_std=encoder_std)  # type: ignore[arg-type]


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters (the seed's Table 2 counts)."""
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------------------------
# The ELBO
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


def gaussian_log_likelihood(x: Tensor, mean: Tensor, std: Tensor | float) -> Tensor:
    """log N(x; mean, std² I) summed over the last axis, including -½·log 2π: ``[B, P] → [B]``.

    ``std`` is a scalar (the model's shared sigma) or broadcastable to ``x``. Written as one
    squared-error sum plus the normalising terms: three ops on ``[B, P]`` instead of six, which is
    worth ~10 % of an autograd training step at batch 16.
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


def elbo_terms(model: VAE, x: Tensor, generator: torch.Generator | None = None,
               eps: Tensor | None = None) -> ELBOTerms:
    """One-sample ELBO of ``x [B, 784]`` under ``model`` (reparameterised, differentiable); the
    noise ``eps [B, D]`` is drawn from ``generator`` unless given.

    The reference definition: the autograd training backend minimises ``.loss``; the fast step
    (``vae_report.train.fast_step``) and the importance-weighted bound (``vae_report.metrics.iwae``) are
    checked against it by tests.
    """
    q = model.encode(x)
    z = q.sample(generator, eps)
    log_lik = gaussian_log_likelihood(x, model.decode(z), model.decoder_std)
    return ELBOTerms(log_lik=log_lik, kl_per_dim=kl_to_standard_normal(q))
