"""The Markov chain x → z ~ q(z|x) → x ~ p(x|z): the seed's 'limiting distribution'."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

import vae_core
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


# --------------------------------------------------------------------------------------------
# The chain as the seed ran it: sampling through torch.distributions, and its two workarounds
# --------------------------------------------------------------------------------------------
#: The seed's chains: ``plain`` samples z ~ q(z|x) and x ~ N(mean, σ²I) through
#: ``torch.distributions.Normal`` with its argument checks on, nothing clipped; ``normalised`` (the
#: seed's first workaround) min–max normalises each generated image to [0, 1]; ``clipped`` (its
#: second) clips the log-variances to :data:`LOGVAR_CLIP` before the exponential.
CHAIN_KINDS: tuple[str, ...] = ("plain", "normalised", "clipped")

#: The fixed range the ``clipped`` chain clips the log-variances to before the exponential — the
#: encoder's predicted one and the decoder's 2·log σ (the seed says "predicted by the decoder";
#: only the encoder's is a prediction here, so both are clipped). The seed names no range;
#: this is the range of the widely copied ``DiagonalGaussianDistribution`` (taming-transformers,
#: Stable Diffusion): std = exp(½·logvar) stays in [3.1e-7, 2.2e4], so neither std nor its square
#: underflows to 0 or overflows float32, whatever the encoder predicts.
LOGVAR_CLIP: tuple[float, float] = (-30.0, 20.0)


@dataclass
class ChainFate:
    """How one chain of the seed's kind ended, for ``B`` images started side by side.

    ``failed_step``: the first step (1-based) at which sampling raised or produced a non-finite
    state, ``None`` if all ``steps`` ran; ``failure``: how — ``"scale 0"`` (a std underflowed),
    ``"scale inf"``, ``"NaN"`` or ``"state inf"`` — and ``message`` torch's own words when
    ``torch.distributions`` refused. ``logvar_min``/``logvar_max``: the most extreme log-variance
    the encoder predicted along the way (before any clipping). ``frames [T'+1, B, 784]``: the start
    images and every state up to the failure, for the filmstrips.
    """

    kind: str
    steps: int
    failed_step: int | None
    failure: str | None
    message: str | None
    logvar_min: float
    logvar_max: float
    frames: Tensor

    def summary(self) -> dict[str, Any]:
        """The fate as JSON-ready numbers: the last state's share of pixels ≥ 1 ("all ones") and
        its mean pixel, among the images still finite."""
        last = self.frames[-1]
        finite = torch.isfinite(last).all(-1)
        rows = last[finite]
        return {"kind": self.kind, "steps": self.steps, "broke": self.failed_step is not None,
                "failed_step": self.failed_step, "failure": self.failure, "message": self.message,
                "logvar_min": self.logvar_min, "logvar_max": self.logvar_max,
                "final_step": len(self.frames) - 1,
                "final_finite_images": int(finite.sum()),
                "final_share_ge_1": float((rows >= 1.0).float().mean()) if len(rows) else None,
                "final_mean_pixel": float(rows.mean()) if len(rows) else None}


def encoder_logvar(model: VAE, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The encoder's mean, predicted log-variance and std, ``[B, D]`` each. The log-variance is
    the head's raw half for the seed's ``exp`` parameterisation (so a std that underflowed to 0
    still shows the log-variance that sent it there), ``2·log std`` for the floored one."""
    mean, raw = model.encoder_head(model.encoder(x)).chunk(2, dim=-1)
    std = vae_core.encoder_std(raw, model.encoder_std)
    return mean, (raw if model.encoder_std == "exp" else 2.0 * torch.log(std)), std


def _how_it_failed(*tensors: Tensor) -> str:
    """The first problem among the tensors a draw used: a zero scale, NaN, an infinite value."""
    for t in tensors:
        if bool(torch.isnan(t).any()):
            return "NaN"
    for t in tensors:
        if bool((t == 0).any()):
            return "scale 0"
        if bool(torch.isinf(t).any()):
            return "scale inf"
    return "unknown"


@torch.no_grad()
def seed_chain(model: VAE, x0: Tensor, kind: str, steps: int = 100, seed: int = 0) -> ChainFate:
    """Run the seed's chain of ``kind`` (:data:`CHAIN_KINDS`) from ``x0 [B, 784]``.

    Every draw goes through ``torch.distributions.Normal(..., validate_args=True)``, which refuses
    a scale of 0 or NaN — one concrete form of the seed's "troubles in sampling from the normal
    distribution"; a state that turns non-finite without a refusal (an infinite scale) ends the
    chain too. Nothing is clipped except what ``kind`` names.
    """
    if kind not in CHAIN_KINDS:
        raise ValueError(f"chain kind must be one of {', '.join(CHAIN_KINDS)}, got {kind!r}")
    Normal = torch.distributions.Normal
    torch.manual_seed(seed)     # Normal.sample draws from the global generator
    frames, x = [x0], x0
    lo, hi = math.inf, -math.inf
    failed, failure, message = None, None, None
    sigma = model.decoder_std                                 # one scalar: fixed along the chain
    if kind == "clipped":
        sigma = torch.exp(0.5 * (2 * torch.log(sigma)).clamp(*LOGVAR_CLIP))
    for step in range(1, steps + 1):
        mean_z, logvar, std_z = encoder_logvar(model, x)
        if bool(torch.isfinite(logvar).any()):
            finite = logvar[torch.isfinite(logvar)]
            lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
        if kind == "clipped":
            std_z = torch.exp(0.5 * logvar.clamp(*LOGVAR_CLIP))
        try:
            z = Normal(mean_z, std_z, validate_args=True).sample()
            mean_x = model.decode(z)
            x = Normal(mean_x, sigma.expand_as(mean_x), validate_args=True).sample()
        except ValueError as err:
            failed, failure = step, _how_it_failed(mean_z, std_z, sigma)
            message = str(err).split("\n")[0][:200]
            break
        if kind == "normalised":
            x_min = x.min(-1, keepdim=True).values
            x = (x - x_min) / (x.max(-1, keepdim=True).values - x_min)
        frames.append(x)
        if not bool(torch.isfinite(x).all()):
            failed, failure = step, "NaN" if bool(torch.isnan(x).any()) else "state inf"
            break
    return ChainFate(kind=kind, steps=steps, failed_step=failed, failure=failure, message=message,
                     logvar_min=lo, logvar_max=hi, frames=torch.stack(frames))


def seed_chains(model: VAE, x0: Tensor, steps: int = 100, seed: int = 0) -> dict[str, ChainFate]:
    """Each of :data:`CHAIN_KINDS` from the same start images and seed."""
    return {kind: seed_chain(model, x0, kind, steps, seed) for kind in CHAIN_KINDS}
