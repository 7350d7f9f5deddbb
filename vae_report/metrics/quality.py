"""How digit-like images are: Fréchet distance, distance to the nearest training image, and how
the chain moves between digits — all judged by the digit classifier (``classifier``)."""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from vae_report.data import finite_pixels
from .chain import ChainResult
from .classifier import DigitClassifier, classify
from .evaluation import batches


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


def _unit_roundoff_bound(n: int) -> float:
    """γ_n = n·u / (1 − n·u) for float32 (u = 2⁻²⁴): the worst-case relative error of a float32
    dot product of length n, |fl(a·b) − a·b| ≤ γ_n Σ|a_i b_i| (Higham, Accuracy and Stability
    of Numerical Algorithms, §3.1), whatever order or blocking the GEMM kernel chooses."""
    nu = n * 2.0 ** -24
    return nu / (1 - nu)


@torch.no_grad()
def nearest_distance(x: Tensor, reference: Tensor, batch_size: int = 4096) -> Tensor:
    """Euclidean pixel distance of each row of ``x [N, 784]`` to its nearest row of
    ``reference [M, 784]``: ``[N]``, exact to float64 rounding. Non-finite pixels count as 1.

    Fast and exact on any CPU: the squared distances are first computed with one float32 GEMM
    (‖a‖² + ‖b‖² − 2ab; the cancellation in that formula is what ``torch.cdist`` returns past 25
    rows, 0.011 instead of 0 for an image's distance to itself on some CPUs). Its error is
    bounded (:func:`_unit_roundoff_bound`), so every reference row within twice that bound of
    the best candidate is recomputed directly in float64, and the minimum over those is exact.
    """
    x = finite_pixels(x)
    x64 = x.double()
    x_sq = x64.square().sum(1)                                           # [N]
    gamma = _unit_roundoff_bound(x.shape[1])
    best = torch.full((len(x),), math.inf, dtype=torch.float64, device=x.device)
    for rb in batches(reference, batch_size):
        r64 = rb.double()
        r_sq = r64.square().sum(1)                                       # [R]
        dot = (x @ rb.T).double()                                        # [N, R] float32 GEMM
        approx = (x_sq[:, None] + r_sq[None, :] - 2 * dot).clamp_(min=0)
        # |error of dot| ≤ γ_n Σ|a_i b_i| ≤ γ_n ‖a‖‖b‖ (Cauchy–Schwarz); the norms are float64
        err = 2 * gamma * x_sq.sqrt()[:, None] * r_sq.sqrt()[None, :]   # bound on |approx − d²|
        lowest = (approx + err).min(1, keepdim=True).values             # a d² no row exceeds
        rows, cols = torch.nonzero(approx - err <= lowest, as_tuple=True)
        exact = (x64[rows] - r64[cols]).square().sum(1)                  # candidates, float64
        batch_best = torch.full_like(best, math.inf).scatter_reduce(0, rows, exact, "amin")
        best = torch.minimum(best, batch_best)
    return best.sqrt().to(x.dtype)


#: A chain frame is "digit-like" when the classifier gives it at least this confidence …
DIGIT_CONFIDENCE = 0.9
#: … and it keeps at least this share of the ink (mean pixel) of the chain's start image.
INK_SHARE = 0.5


def morphs_and_fades(classes: Tensor, confidence: Tensor, ink: Tensor) -> dict[str, float]:
    """Which chains morph from digit to digit and which fade, from per-frame ``classes``,
    ``confidence`` and ``ink`` (mean pixel), each ``[B, T+1]`` with frame 0 the start image.

    A chain **morphs** when two of its digit-like frames (confidence ≥ :data:`DIGIT_CONFIDENCE`
    and ink ≥ :data:`INK_SHARE` × the start's) have different classes: it moves between digits
    while still drawing digits. It **fades** when its last frame keeps less than that share of
    the start's ink. A chain that only loses its ink changes class on the way (faint frames are
    classified anyhow), so counting class changes alone cannot tell the two apart. Returns the
    shares of chains that morph and that fade."""
    digit_like = (confidence >= DIGIT_CONFIDENCE) & (ink >= INK_SHARE * ink[:, :1])
    morphs = [len(set(c[d].tolist())) > 1 for c, d in zip(classes, digit_like)]
    fades = ink[:, -1] < INK_SHARE * ink[:, 0]
    return {"morphing_chains": sum(morphs) / len(morphs),
            "fading_chains": int(fades.sum()) / len(morphs)}


def chain_mixing(chain: ChainResult, classifier: DigitClassifier, reference: Tensor) -> dict[str, Any]:
    """How the chain moves between digits, frame by frame, judged by ``classifier``.

    Frames are those of the animation (:meth:`ChainResult.frames`), ``[T+1, B, 784]``. Returns
    per chain and frame (lists ``[B][T+1]``) the class, the classifier's confidence, the ink
    (mean pixel) and the pixel distance to the nearest row of ``reference [M, 784]`` (the
    training images), plus summaries: class changes per chain, the fraction of chains whose last
    frame has another class than the start image, and the shares that morph and that fade
    (:func:`morphs_and_fades`).
    """
    frames = chain.frames()                                                 # [T+1, B, 784]
    n_frames, n_chains = frames.shape[:2]
    judged = classify(classifier, frames.flatten(0, 1))
    classes = judged["classes"].reshape(n_frames, n_chains).T               # [B, T+1]
    confidence = judged["confidence"].reshape(n_frames, n_chains).T
    distance = nearest_distance(frames.flatten(0, 1), reference).reshape(n_frames, n_chains).T
    switches = (classes[:, 1:] != classes[:, :-1]).sum(1).float()         # [B]
    ink = torch.nan_to_num(frames).mean(-1).T                               # [B, T+1]
    return {"frame_classes": classes.tolist(), "frame_confidence": confidence.tolist(),
            "frame_nn_distance": distance.tolist(), "frame_ink": ink.tolist(),
            **morphs_and_fades(classes, confidence, ink),
            "class_switches_per_chain": float(switches.mean()),
            "fraction_final_class_changed": float((classes[:, -1] != classes[:, 0]).float().mean()),
            "final_mean_confidence": float(confidence[:, -1].mean()),
            "final_mean_nn_distance": float(distance[:, -1].mean()),
            "start_mean_nn_distance": float(distance[:, 0].mean())}
