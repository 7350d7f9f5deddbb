"""The likelihood of 8-bit pixels: the decoder's Gaussian integrated over each pixel's bin.

The continuous Gaussian density of pixels in [0, 1] is unbounded as σ shrinks (Mattei &
Frellsen, NeurIPS 2018), so continuous ELBOs depend on the σ floor and compare with nothing
published. MNIST's pixels are 8-bit: level k ∈ {0, …, 255} stands for the bin
[k/255 − 1/510, k/255 + 1/510], the first bin open to −∞ and the last to +∞. Under the decoder's
N(μ, σ²) each bin has a proper probability, P(k) = Φ((hi − μ)/σ) − Φ((lo − μ)/σ), so the log
probability of an image is ≤ 0 nats and comparable across models and with published
discrete-data results (in bits per dimension). :func:`discrete_log_likelihood` estimates it
with importance weighting, as ``iwae.iwae_log_likelihood`` does the continuous one.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from vae_core import VAE

from .evaluation import batches
from .iwae import IWAE_DECODES_PER_BATCH, latent_draws

LEVELS = 256
HALF_BIN = 0.5 / (LEVELS - 1)


def _log1mexp(t: Tensor) -> Tensor:
    """log(1 − eᵗ) for t ≤ 0, accurate near 0 and for very negative t (Mächler 2012)."""
    return torch.where(t > -math.log(2), torch.log(-torch.expm1(t)), torch.log1p(-torch.exp(t)))


def log_bin_probability(x: Tensor, mean: Tensor, std: Tensor | float) -> Tensor:
    """log P(x's 8-bit bin) under N(mean, std²), element-wise; ``x`` holds levels k/255.

    Computed from log-CDFs (``torch.special.log_ndtr``) with the bin mirrored into the lower
    tail when it lies above the mean, so that bins far in either tail keep their (tiny)
    probability instead of rounding to log 0: log Φ(b) + log(1 − Φ(a)/Φ(b)), a < b ≤ …
    """
    std = torch.as_tensor(std, dtype=mean.dtype, device=mean.device)
    level = torch.round(x * (LEVELS - 1))
    lo = (x - HALF_BIN - mean) / std
    hi = (x + HALF_BIN - mean) / std
    lo = torch.where(level <= 0, torch.full_like(lo, -math.inf), lo)
    hi = torch.where(level >= LEVELS - 1, torch.full_like(hi, math.inf), hi)
    mirror = lo > 0                       # Φ(hi) − Φ(lo) = Φ(−lo) − Φ(−hi): both in the lower tail
    a = torch.where(mirror, -hi, lo)
    b = torch.where(mirror, -lo, hi)
    log_b = torch.special.log_ndtr(b)
    return log_b + _log1mexp(torch.special.log_ndtr(a) - log_b)


def discrete_log_weights(model: VAE, x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """log P(x | z_k) + log p(z_k) − log q(z_k|x) with the binned likelihood, for ``k`` draws
    z_k ~ q(z|x) per image: ``x [B, 784]`` (levels k/255) ``→ [K, B]``."""
    z, log_prior, log_q = latent_draws(model, x, k, generator)
    mean = model.decode(z.reshape(-1, model.latent_dim)).reshape(k, len(x), -1)
    log_lik = log_bin_probability(x, mean, model.decoder_std).sum(-1)          # [K, B]
    return log_lik + log_prior - log_q


@torch.no_grad()
def discrete_log_likelihood(model: VAE, x: Tensor, k: int, batch_size: int | None = None,
                            seed: int = 0) -> Tensor:
    """Importance-weighted estimate of log P(x) of 8-bit images, ``[N]`` nats (≤ 0 up to the
    estimate's noise; a lower bound in expectation that rises to log P(x) as ``k`` grows)."""
    gen = torch.Generator(device=x.device).manual_seed(seed)
    batch_size = batch_size or max(1, IWAE_DECODES_PER_BATCH // k)
    return torch.cat([torch.logsumexp(discrete_log_weights(model, xb, k, gen), dim=0) - math.log(k)
                      for xb in batches(x, batch_size)])
