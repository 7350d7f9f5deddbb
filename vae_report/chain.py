"""The Markov chain x → z ~ q(z|x) → x ~ p(x|z): the seed's 'limiting distribution'."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from vae_core import VAE


@dataclass
class ChainResult:
    """Frames of the chain x → z ~ q(z|x) → x ~ p(x|z).

    ``samples [T+1, B, 784]``: the chain's states, frame 0 the starting images (not clipped, so a
    diverging chain shows as it is). ``means [T, B, 784]``: the decoder mean at each step's z.
    """

    samples: Tensor
    means: Tensor

    def frames(self) -> Tensor:
        """What the animations show: the start images, then each step's decoder mean,
        ``[T+1, B, 784]`` (the states add pixel noise of the decoder's sigma on top)."""
        return torch.cat([self.samples[:1], self.means])

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
        mean = model.decode(z)                                        # p(x|z) = N(mean, σ² I)
        eps = torch.randn(mean.shape, generator=gen, device=mean.device, dtype=mean.dtype)
        x = mean + model.decoder_std * eps
        samples.append(x)
        means.append(mean)
    return ChainResult(samples=torch.stack(samples), means=torch.stack(means))
