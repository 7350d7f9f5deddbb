"""Scoring a trained VAE: test ELBO, active units, reconstructions, decoder samples.

The importance-weighted bound is in ``iwae``, the Markov chain in ``chain``.
"""
from __future__ import annotations

import math
from typing import Any, Iterator

import torch
from torch import Tensor

import vae_core
from vae_core import VAE

#: Burda et al. (2015): unit u is active when Cov_x(E_q[z_u|x]) exceeds this.
ACTIVE_UNIT_THRESHOLD = 0.01
#: This study's threshold (the seed names none): a latent dimension whose KL (nats, averaged over the data) is below
#: this is collapsed (its posterior is the prior).
SEED_COLLAPSE_KL = 0.01

def batches(x: Tensor, batch_size: int) -> Iterator[Tensor]:
    """Consecutive row slices of ``x`` of at most ``batch_size`` rows."""
    for i in range(0, len(x), batch_size):
        yield x[i:i + batch_size]


@torch.no_grad()
def evaluate_elbo(model: VAE, x: Tensor, batch_size: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Mean one-sample ELBO over ``x [N, 784]`` with noise from ``seed`` (deterministic).

    Returns ``elbo``, ``log_lik``, ``kl`` (floats, nats per image) and ``kl_per_dim`` (a list of D
    floats: the KL of each latent dimension averaged over the data, the posterior-collapse view).
    Sums are accumulated in float64.
    """
    was_training = model.training
    model.eval()
    gen = torch.Generator(device=x.device).manual_seed(seed)
    log_lik = torch.zeros((), dtype=torch.float64, device=x.device)
    kl_per_dim = torch.zeros(model.latent_dim, dtype=torch.float64, device=x.device)
    for xb in batches(x, batch_size):
        terms = vae_core.elbo_terms(model, xb, gen)
        log_lik += terms.log_lik.double().sum()
        kl_per_dim += terms.kl_per_dim.double().sum(0)
    model.train(was_training)
    n = len(x)
    kl_per_dim = kl_per_dim / n
    return {"elbo": float(log_lik / n - kl_per_dim.sum()), "log_lik": float(log_lik / n),
            "kl": float(kl_per_dim.sum()), "kl_per_dim": kl_per_dim.tolist()}


def nats_to_bits_per_dim(nats: float, dims: int = vae_core.IMAGE_PIXELS) -> float:
    """Convert a log-likelihood in nats per image to bits per pixel (negated: lower is better).

    For continuous pixel densities this can be negative; it is comparable between our models only.
    """
    return -nats / (dims * math.log(2))


@torch.no_grad()
def posterior_means(model: VAE, x: Tensor, batch_size: int = 1000) -> Tensor:
    """E_q[z|x] for every image: ``[N, 784] → [N, D]``."""
    return torch.cat([model.encode(xb).mean for xb in batches(x, batch_size)])


@torch.no_grad()
def active_units(model: VAE, x: Tensor, threshold: float = ACTIVE_UNIT_THRESHOLD,
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
