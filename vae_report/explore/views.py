"""The views that look inside a trained model (a :class:`~vae_report.explore.models.Explorer`).
Each view returns a :class:`View` — the arrays it computed plus a matplotlib figure:

==================  ===========================================================================
``interpolation``   decoded paths between two test digits, linear and spherical, each frame's
                    class and confidence
``traversal``       one or all latent dimensions swept, rows ordered by KL, active units marked,
                    collapsed ones greyed
``chain``           the x → z → x chain frame by frame: class, confidence, distance to the nearest
                    training image, the decoder mean beside a draw with the learned σ
``latent_map``      the test set's posterior means in 2-D (PCA), coloured by class
``compare``         several models (architectures, runs, seeds) on the same digits
==================  ===========================================================================

(``own_digit`` draws a digit of your own the same way.) Plain torch and matplotlib
(``matplotlib.figure.Figure``: no pyplot state, nothing shown by itself);
``vae_report.explore.widgets`` puts sliders and buttons on these views, and
``notebooks/explore.ipynb`` calls both. Nothing here writes a file.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Sequence

import matplotlib.figure
import numpy as np
import torch
from torch import Tensor

import vae_core
from vae_core import IMAGE_PIXELS, IMAGE_SIDE

from vae_report.metrics.chain import markov_chain
from vae_report.metrics.evaluation import ACTIVE_UNIT_THRESHOLD, SEED_COLLAPSE_KL, posterior_means
from vae_report.metrics.quality import nearest_distance
from vae_report.pictures import displayable, image_grid
from .models import Explorer, ExploreError


class Figure(matplotlib.figure.Figure):
    """A view's matplotlib figure, which says how to show or save it when printed (a bare
    Figure prints as ``<Figure size 615x3260 with 1 Axes>``, no pyplot being involved)."""

    def _repr_png_(self) -> bytes:
        # a bare Figure (no pyplot, no inline backend) shows in Jupyter only as text
        return figure_png(self)

    def __repr__(self) -> str:
        w, h = self.get_size_inches() * self.dpi
        return (f"<view figure {w:.0f}×{h:.0f} px: in Jupyter `display(view)` shows it; "
                f"anywhere `view.figure.savefig('view.png')` saves it>")


@dataclass
class View:
    """What a view computed (``arrays``: numpy arrays and numbers, shapes in each view's
    docstring), the figure that shows it, and notes (conversions made, fallbacks taken)."""

    arrays: dict[str, Any]
    figure: Figure
    notes: list[str] = field(default_factory=list)

    def _repr_png_(self) -> bytes:
        # a bare Figure (no pyplot, no inline backend) shows in Jupyter only as text
        return figure_png(self.figure)


# --------------------------------------------------------------------------------------------
# Drawing helpers
# --------------------------------------------------------------------------------------------

def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (what a widget's image shows)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def class_label(cls: int, conf: float) -> str:
    return "?" if cls < 0 else f"{cls} · {conf:.2f}"


def image_row(ax: Any, images: Tensor, titles: Sequence[str] | None = None) -> None:
    """``images [K, 784]`` side by side on one axis, a title over each."""
    ax.imshow(image_grid(images, nrow=len(images)).numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if titles:
        cell_labels(ax, titles, axis="x")
        ax.xaxis.tick_top()
        ax.tick_params(length=0)


def cell_labels(ax: Any, labels: Sequence[str], axis: str = "y") -> None:
    """Label each 28-pixel row (``axis="y"``, on the left) or column (``"x"``) of an
    :func:`image_grid` (pad 2) shown on ``ax``."""
    centres = [2 + (IMAGE_SIDE + 2) * i + IMAGE_SIDE / 2 for i in range(len(labels))]
    getattr(ax, f"set_{axis}ticks")(centres)
    getattr(ax, f"set_{axis}ticklabels")(labels, fontsize=7)


def as_numpy(images: Tensor) -> np.ndarray:
    return displayable(images).numpy()


# --------------------------------------------------------------------------------------------
# The views
# --------------------------------------------------------------------------------------------

def _slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation ``[T, D]`` between ``a, b [D]`` (linear when they are parallel)."""
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp(min=1e-12)
    omega = torch.arccos(cos.clamp(-1, 1))
    if float(omega) < 1e-4:
        return (1 - t)[:, None] * a + t[:, None] * b
    return ((torch.sin((1 - t) * omega)[:, None] * a + torch.sin(t * omega)[:, None] * b)
            / torch.sin(omega))


@torch.no_grad()
def interpolation(m: Explorer, start: int, end: int, steps: int = 10) -> View:
    """Decoded paths from test image ``start`` to ``end`` between their posterior means.

    ``arrays``: ``t [T]``; for ``linear`` and ``slerp``: ``images [T, 784]``, ``classes [T]``,
    ``confidence [T]``; ``ends [2, 784]`` the two test images.
    """
    if steps < 2:
        raise ExploreError(f"steps: an interpolation needs ≥ 2 frames, got {steps}")
    ends = torch.stack([m.test_image(start), m.test_image(end)])
    z = m.model.encode(ends).mean                                             # [2, D]
    t = torch.linspace(0, 1, steps, device=m.device)
    paths = {"linear": (1 - t)[:, None] * z[0] + t[:, None] * z[1], "slerp": _slerp(z[0], z[1], t)}
    arrays: dict[str, Any] = {"t": t.cpu().numpy(), "ends": as_numpy(ends)}
    fig = Figure(figsize=(max(6.0, 0.75 * (steps + 2)), 3.4))
    axes = fig.subplots(2, 1)
    for ax, (method, path) in zip(axes, paths.items()):
        images = m.model.decode(path)
        classes, conf = m.judge(images)
        arrays[method] = {"images": as_numpy(images), "classes": classes, "confidence": conf}
        image_row(ax, torch.cat([ends[:1], images, ends[1:]]),
                   ["start"] + [class_label(c, p) for c, p in zip(classes, conf)] + ["end"])
        ax.set_ylabel(method, fontsize=9)
    fig.suptitle(f"{m.name}: test image {start} → {end} (class · confidence)", fontsize=10)
    return View(arrays, fig, list(m.notes))


def interpolation_frame(view: View, frame: int) -> tuple[Figure, str]:
    """Frame ``frame`` of an :func:`interpolation` view, linear beside spherical, and its label."""
    a = view.arrays
    last = len(a["t"]) - 1
    if not 0 <= frame <= last:
        raise ExploreError(f"frame {frame} is out of range: the interpolation has frames 0–{last}")
    fig = Figure(figsize=(3.2, 1.9))
    axes = fig.subplots(1, 2)
    parts = []
    for ax, method in zip(axes, ("linear", "slerp")):
        cls, conf = int(a[method]["classes"][frame]), float(a[method]["confidence"][frame])
        ax.imshow(a[method]["images"][frame].reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray",
                  vmin=0, vmax=1)
        ax.set_title(f"{method}: {class_label(cls, conf)}", fontsize=8)
        ax.axis("off")
        parts.append(f"{method} {class_label(cls, conf)}")
    return fig, f"t = {a['t'][frame]:.2f}: " + ", ".join(parts)


def dims_by_kl(m: Explorer, dims: int | Sequence[int] | str) -> list[int]:
    kl = m.collapse()["kl"]
    latent = len(kl)
    if isinstance(dims, str):
        if dims != "all":
            raise ExploreError(f"dims: 'all', a dimension or a list of them, got {dims!r}")
        chosen = list(range(latent))
    else:
        chosen = [dims] if isinstance(dims, (int, np.integer)) else list(dims)
    bad = [d for d in chosen if not isinstance(d, (int, np.integer)) or not 0 <= d < latent]
    if bad or not chosen:
        raise ExploreError(f"dims: {bad or chosen} out of range; the latent space has {latent} "
                           f"dimensions, 0–{latent - 1}")
    return sorted((int(d) for d in chosen), key=lambda d: -float(kl[d]))


def _base_latent(m: Explorer, index: int | None) -> Tensor:
    if index is None:
        return torch.zeros(m.model.latent_dim, device=m.device)
    return m.model.encode(m.test_image(index)[None]).mean[0]


@torch.no_grad()
def traverse(m: Explorer, dims: Sequence[int], values: Tensor, base: Tensor) -> Tensor:
    """Decoder means ``[R, V, 784]`` of ``base [D]`` with dimension ``dims[r]`` set to each of
    ``values [V]``."""
    z = base.repeat(len(dims), len(values), 1)                                # [R, V, D]
    for r, d in enumerate(dims):
        z[r, :, d] = values.to(base.device)
    return m.model.decode(z.reshape(-1, len(base))).reshape(len(dims), len(values), IMAGE_PIXELS)


def traversal_labels(m: Explorer, dims: Sequence[int]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Row labels ``z<d> · KL <kl> · active`` and the ``active``/``collapsed`` flags ``[R]``."""
    info = m.collapse()
    active = np.array([float(info["activity"][d]) > ACTIVE_UNIT_THRESHOLD for d in dims])
    collapsed = np.array([float(info["kl"][d]) < SEED_COLLAPSE_KL for d in dims])
    labels = [f"z{d} · KL {float(info['kl'][d]):.2f}" + (" · active" if a else "")
              for d, a in zip(dims, active)]
    return labels, active, collapsed


@torch.no_grad()
def traversal_point(m: Explorer, dim: int, value: float, index: int | None = 0) -> View:
    """One point of a traversal: the decoder mean with dimension ``dim`` set to ``value`` around
    test image ``index`` (``None``: z = 0). ``arrays``: ``image [784]``, ``class``,
    ``confidence``, ``label`` (what a widget shows under the picture)."""
    (d,) = dims_by_kl(m, dim)
    image = traverse(m, [d], torch.tensor([float(value)]), _base_latent(m, index))[0, 0]
    classes, conf = m.judge(image[None])
    (row,), (active,), (collapsed,) = traversal_labels(m, [d])
    state = "collapsed" if collapsed else ("active" if active else "inactive")
    label = f"{row.split(' · active')[0]} ({state}) = {value:+.2f}: class {class_label(int(classes[0]), float(conf[0]))}"
    fig = Figure(figsize=(1.9, 2.0))
    ax = fig.subplots()
    ax.imshow(as_numpy(image[None])[0].reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"z{d} = {value:+.2f}", fontsize=8, color="0.6" if collapsed else "black")
    ax.axis("off")
    return View({"image": as_numpy(image[None])[0], "class": int(classes[0]),
                 "confidence": float(conf[0]), "label": label}, fig, list(m.notes))


@torch.no_grad()
def traversal(m: Explorer, dims: int | Sequence[int] | str = "all", index: int | None = 0,
              span: float = 3.0, values: int = 9) -> View:
    """Sweep latent dimensions from −``span`` to ``span`` around the posterior mean of test
    image ``index`` (``None``: the prior's mean, 0), all other dimensions fixed.

    Rows ordered by KL (most informative first); active units (Burda et al.: Cov_x E_q[z_u] >
    0.01) are marked, collapsed dimensions (KL < 0.01 nats, this study's threshold) greyed.
    ``arrays``: ``dims [R]``, ``kl [R]``, ``active [R]``, ``collapsed [R]``, ``values [V]``,
    ``images [R, V, 784]``.
    """
    order = dims_by_kl(m, dims)
    grid_values = torch.linspace(-span, span, values)
    images = traverse(m, order, grid_values, _base_latent(m, index))
    labels, active, collapsed = traversal_labels(m, order)
    shown = displayable(images.flatten(0, 1)).reshape(images.shape)
    # collapsed rows: drawn at half contrast, so the eye skips them
    shown[torch.from_numpy(collapsed)] = 0.5 + 0.5 * shown[torch.from_numpy(collapsed)] - 0.25
    fig = Figure(figsize=(1.2 + 0.55 * values, 0.6 + 0.5 * len(order)))
    ax = fig.subplots()
    ax.imshow(image_grid(shown.flatten(0, 1), nrow=values).numpy(), cmap="gray", vmin=0, vmax=1)
    cell_labels(ax, labels)
    for tick, grey in zip(ax.get_yticklabels(), collapsed):
        tick.set_color("0.6" if grey else "black")
    cell_labels(ax, [f"{float(v):+.1f}" for v in grid_values], axis="x")
    ax.tick_params(length=0)
    where = "z = 0" if index is None else f"test image {index}"
    ax.set_title(f"{m.name}: traversal around {where}; {int(active.sum())} of {len(order)} "
                 f"dimensions active, {int(collapsed.sum())} collapsed (grey)", fontsize=9)
    return View({"dims": np.array(order), "kl": m.collapse()["kl"][order].numpy(), "active": active,
                 "collapsed": collapsed, "values": grid_values.numpy(),
                 "images": as_numpy(images.flatten(0, 1)).reshape(images.shape)},
                fig, list(m.notes))


@torch.no_grad()
def chain(m: Explorer, index: int = 0, steps: int = 50, seed: int = 0) -> View:
    """The chain x → z ~ q(z|x) → x ~ p(x|z) from test image ``index``, every frame measured.

    ``arrays``: ``means [T+1, 784]`` (frame 0 the test image, then each step's decoder mean),
    ``draws [T+1, 784]`` (the chain's states: the mean plus noise of the learned σ, unclipped),
    ``classes [T+1]``, ``confidence [T+1]`` and ``nn_distance [T+1]`` of the means (Euclidean
    pixel distance to the nearest training image), ``sigma`` (the decoder's σ). The figure is
    :func:`chain_frame` at the last frame.
    """
    if steps < 1:
        raise ExploreError(f"steps: a chain needs ≥ 1 step, got {steps}")
    walk = markov_chain(m.model, m.test_image(index)[None], steps=steps, seed=seed)
    means = walk.frames()[:, 0]                                               # [T+1, 784]
    draws = walk.samples[:, 0]
    classes, conf = m.judge(means)
    nn = nearest_distance(means, m.data.train.to(m.device)).cpu().numpy()
    arrays = {"means": as_numpy(means), "draws": draws.cpu().numpy(), "classes": classes,
              "confidence": conf, "nn_distance": nn, "sigma": m.model.sigma(), "index": index}
    view = View(arrays, Figure(), list(m.notes))
    view.figure = chain_frame(m, view, steps)
    return view


def chain_frame(m: Explorer, view: View, frame: int) -> Figure:
    """One frame of a :func:`chain` view: the decoder mean and a draw with σ side by side, and
    class, confidence and nearest-image distance over the steps with this frame marked."""
    a = view.arrays
    last = len(a["means"]) - 1
    if not 0 <= frame <= last:
        raise ExploreError(f"frame {frame} is out of range: the chain has frames 0–{last}")
    fig = Figure(figsize=(8.5, 2.6))
    grid = fig.add_gridspec(1, 4, width_ratios=[1, 1, 2.2, 2.2])
    draw = np.clip(a["draws"][frame], 0, 1)
    for k, (img, title) in enumerate(((a["means"][frame], "decoder mean"),
                                      (draw, f"a draw, σ = {a['sigma']:.3f}"))):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(np.asarray(img).reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    steps = np.arange(last + 1)
    ax = fig.add_subplot(grid[0, 2])
    ax.step(steps, a["classes"], where="mid", color="C0")
    ax.set(ylim=(-0.5, 9.5), yticks=range(10), xlabel="step", ylabel="class")
    ax.tick_params(labelsize=7)
    twin = ax.twinx()
    twin.plot(steps, a["confidence"], color="C1", lw=1)
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("confidence", color="C1", fontsize=8)
    twin.tick_params(labelsize=7)
    ax.axvline(frame, color="black", lw=0.8)
    ax2 = fig.add_subplot(grid[0, 3])
    ax2.plot(steps, a["nn_distance"], color="C2")
    ax2.axvline(frame, color="black", lw=0.8)
    ax2.set(xlabel="step", ylabel="distance to nearest\ntraining image")
    ax2.tick_params(labelsize=7)
    fig.suptitle(f"{m.name}: chain from test image {a['index']}, step {frame}: class "
                 f"{class_label(int(a['classes'][frame]), float(a['confidence'][frame]))}, "
                 f"distance {a['nn_distance'][frame]:.2f}", fontsize=9)
    fig.tight_layout()
    return fig


def chain_label(view: View, frame: int) -> str:
    """``step t: class c · confidence, nearest training image at d``."""
    a = view.arrays
    return (f"step {frame}: class {class_label(int(a['classes'][frame]), float(a['confidence'][frame]))}"
            f", nearest training image at {a['nn_distance'][frame]:.2f}")


def pca_2d(z: Tensor) -> tuple[Tensor, Tensor]:
    """Project ``z [N, D]`` on its first two principal axes: coordinates ``[N, 2]`` and the
    fraction of variance each axis explains ``[2]``. An exact eigendecomposition of the D × D
    covariance in float64 (deterministic, unlike ``torch.pca_lowrank``'s random projections)."""
    z = z.double()
    centred = z - z.mean(0)
    vals, vecs = torch.linalg.eigh(torch.cov(centred.T).reshape(z.shape[1], z.shape[1]))
    top = vals.flip(0)[:2].clamp(min=0)
    axes = vecs.flip(1)[:, :2]
    # a fixed sign per axis (its largest loading positive), so reruns draw the same picture
    axes = axes * torch.sign(axes[axes.abs().argmax(0), torch.arange(2)])
    return centred @ axes, top / vals.clamp(min=0).sum().clamp(min=1e-300)


@torch.no_grad()
def latent_map(m: Explorer, n: int | None = None) -> View:
    """The posterior means of the first ``n`` test images (all by default) in 2-D by PCA,
    coloured by their true class. ``arrays``: ``coords [N, 2]``, ``labels [N]``,
    ``explained [2]`` (fraction of the means' variance on each axis)."""
    count = len(m.data.test) if n is None else n
    if not 1 < count <= len(m.data.test):
        raise ExploreError(f"n: between 2 and {len(m.data.test)} test images, got {n}")
    coords, explained = pca_2d(posterior_means(m.model, m.test_x[:count]).cpu())
    labels = m.data.test_labels[:count].numpy()
    fig = Figure(figsize=(5.2, 4.4))
    ax = fig.subplots()
    points = ax.scatter(coords[:, 0], coords[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5,
                        s=4, alpha=0.7, linewidths=0)
    fig.colorbar(points, ax=ax, ticks=range(10), label="true class")
    ax.set(xlabel=f"PC 1 ({100 * explained[0]:.0f} % of variance)",
           ylabel=f"PC 2 ({100 * explained[1]:.0f} %)")
    ax.set_title(f"{m.name}: posterior means of {count} test images", fontsize=9)
    return View({"coords": coords.numpy(), "labels": labels, "explained": explained.numpy()},
                fig, list(m.notes))


@torch.no_grad()
def compare(models: Sequence[Explorer], indices: Sequence[int] = range(8)) -> View:
    """Several models on the same test digits: the digits, then each model's reconstruction
    (decoder mean at the posterior mean), labelled with its one-sample ELBO on those digits.

    ``arrays``: ``names [M]``, ``originals [n, 784]``, ``reconstructions [M, n, 784]``,
    ``elbo [M, n]`` (nats, noise of seed 0), ``sigma [M]``.
    """
    if not models:
        raise ExploreError("compare: give at least one model (load several with models.load)")
    x = torch.stack([models[0].test_image(i) for i in indices]).cpu()
    recons, elbos = [], []
    for m in models:
        xm = x.to(m.device)
        recons.append(m.model.decode(m.model.encode(xm).mean).cpu())
        gen = torch.Generator(device=m.device).manual_seed(0)
        elbos.append(vae_core.elbo_terms(m.model, xm, gen).elbo.cpu().numpy())
    fig = Figure(figsize=(1.6 + 0.6 * len(x), 0.7 + 0.62 * (len(models) + 1)))
    ax = fig.subplots()
    ax.imshow(image_grid(torch.cat([x, *recons]), nrow=len(x)).numpy(), cmap="gray", vmin=0,
              vmax=1)
    cell_labels(ax, ["test images"] + [f"{m.name}\nELBO {e.mean():.0f}, σ {m.model.sigma():.3f}"
                                       for m, e in zip(models, elbos)])
    ax.set_xticks([])
    ax.tick_params(length=0)
    ax.set_title("reconstructions of the same test digits", fontsize=9)
    return View({"names": [m.name for m in models], "originals": as_numpy(x),
                 "reconstructions": np.stack([as_numpy(r) for r in recons]),
                 "elbo": np.stack(elbos), "sigma": np.array([m.model.sigma() for m in models])},
                fig, [n for m in models for n in m.notes])


#: MNIST's digits were fitted into a 20 × 20 box and centred by their centre of mass in 28 × 28.
