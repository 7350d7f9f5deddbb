"""The importance-weighted bound on log p(x) (Burda et al. 2015) and its curve against K.

log p(x) ≥ E[log (1/K) Σ_k p(x, z_k) / q(z_k|x)], z_k ~ q(z|x): K = 1 is the ELBO, and the bound
tightens towards log p(x) as K grows. The log-weights are ``vae_core``'s log-likelihood, prior
and posterior densities, written in place on the decoder output for speed; a test compares them
with a version built from ``vae_core``'s functions.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from vae_core import LOG_2PI, VAE

from .evaluation import batches

#: Latents decoded per batch: [2000, 784] float32 is 6 MB, so the element-wise passes after the
#: decoder's last matmul stay in cache (≈ 20 % faster than 10,000).
IWAE_DECODES_PER_BATCH = 2000


def latent_draws(model: VAE, x: Tensor, k: int,
                 generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """``k`` draws z ~ q(z|x) per image and their log densities: ``z [K, B, D]``,
    ``log p(z) [K, B]`` (the prior), ``log q(z|x) [K, B]``."""
    q = model.encode(x)
    eps = torch.randn((k, *q.mean.shape), generator=generator, device=x.device, dtype=x.dtype)
    z = q.mean + q.std * eps                                                   # [K, B, D]
    log_q = (-0.5 * eps.square() - torch.log(q.std) - 0.5 * LOG_2PI).sum(-1)   # [K, B]
    log_prior = (-0.5 * z.square() - 0.5 * LOG_2PI).sum(-1)                    # [K, B]
    return z, log_prior, log_q


def iwae_log_weights(model: VAE, x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """log p(x, z_k) − log q(z_k|x) for ``k`` draws z_k ~ q(z|x) per image: ``x [B, 784] → [K, B]``."""
    z, log_prior, log_q = latent_draws(model, x, k, generator)
    mean = model.decode(z.reshape(-1, model.latent_dim)).reshape(k, len(x), -1)
    # vae_core.gaussian_log_likelihood(x, mean, sigma) written in place on the decoder output:
    # the same sum, without three more [K·B, 784] temporaries.
    std = model.decoder_std
    quad = mean.sub_(x).square_().sum(-1)                                      # [K, B]
    log_lik = -0.5 * quad / std.square() - x.shape[-1] * (torch.log(std) + 0.5 * LOG_2PI)
    return log_lik + log_prior - log_q


@torch.no_grad()
def iwae_log_likelihood(model: VAE, x: Tensor, k: int, batch_size: int | None = None,
                        seed: int = 0) -> Tensor:
    """Importance-weighted bound on log p(x) per image, ``[N]`` nats, with ``k`` samples.

    Computed with logsumexp over ``[K, B]`` log-weights; ``batch_size`` images at a time
    (default: about ``IWAE_DECODES_PER_BATCH`` latents per batch).
    """
    gen = torch.Generator(device=x.device).manual_seed(seed)
    batch_size = batch_size or max(1, IWAE_DECODES_PER_BATCH // k)
    return torch.cat([torch.logsumexp(iwae_log_weights(model, xb, k, gen), dim=0) - math.log(k)
                      for xb in batches(x, batch_size)])


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
    for xb in batches(x, max(1, IWAE_DECODES_PER_BATCH // k_max)):
        log_w = iwae_log_weights(model, xb, k_max, gen)                          # [K_max, B]
        for k in totals:
            groups = log_w[:k_max // k * k].reshape(k_max // k, k, len(xb))      # [G, K, B]
            bound = torch.logsumexp(groups, dim=1) - math.log(k)                # [G, B]
            totals[k] += float(bound.mean(0).double().sum())
    return {k: total / len(x) for k, total in totals.items()}
