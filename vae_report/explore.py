"""Exploring trained models: load one by name and look inside it.

``load("full/retrained/seed-0/deep-512")`` (or a path to a ``.pt``) gives an :class:`Explorer`:
the model, the data split and subsets it was evaluated on (read from its own parameters, not
typed again), and the digit classifier when the study has one. Each view returns a
:class:`View` — the arrays it computed plus a matplotlib figure:

==================  ===========================================================================
``interpolation``   decoded paths between two test digits, linear and spherical, each frame's
                    class and confidence
``traversal``       one or all latent dimensions swept, rows ordered by KL, active units marked,
                    collapsed ones greyed
``chain``           the x → z → x chain frame by frame: class, confidence, distance to the nearest
                    training image, the decoder mean beside a draw with the learned σ
``latent_map``      the test set's posterior means in 2-D (PCA), coloured by class
``compare``         several models (architectures, runs, seeds) on the same digits
``own_digit``       an image file of your own encoded, reconstructed and traversed
==================  ===========================================================================

Plain torch and matplotlib (``matplotlib.figure.Figure``: no pyplot state, nothing shown by
itself); ``vae_report.widgets`` puts sliders and buttons on these views, and
``notebooks/explore.ipynb`` calls both. Nothing here writes a file.
"""
from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import matplotlib.figure
from torch import Tensor

import vae_core
from vae_core import IMAGE_PIXELS, IMAGE_SIDE

from . import layout
from .chain import markov_chain
from .checkpoints import repair_advice, in_progress_path, load_weights
from .classifier import DigitClassifier, classify, load_classifier
from .data import MNISTSplits, load_mnist
from .devices import pick_device
from .errors import DataError
from .evaluation import ACTIVE_UNIT_THRESHOLD, SEED_COLLAPSE_KL, evaluate_elbo, posterior_means
from .figures import displayable, image_grid
from .params import StudyParams, check_params, parameter_types
from .quality import nearest_distance

#: How a model is named: the cell folder of the study under its profile.
SPEC_FORMAT = "<profile>/<run>/seed-<n>/<arch>"


class ExploreError(ValueError):
    """A model that is not trained, an index out of range, an image that is not a digit; the
    message names the problem and the fix."""


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


@dataclass
class Explorer:
    """A trained model ready to look at: the model, its parameters, its data, the classifier."""

    name: str
    model: vae_core.VAE
    params: StudyParams
    data: MNISTSplits
    classifier: DigitClassifier | None
    device: torch.device
    source: Path
    notes: list[str] = field(default_factory=list)
    _collapse: dict[str, Tensor] | None = field(default=None, repr=False)

    @property
    def test_x(self) -> Tensor:
        """``[N, 784]`` the test images the model was evaluated on, on its device."""
        return self.data.test.to(self.device)

    def test_image(self, index: int) -> Tensor:
        """``[784]`` test image ``index``; an :class:`ExploreError` naming the range otherwise."""
        n = len(self.data.test)
        if not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            raise ExploreError(f"test image {index!r} is out of range: {self.name} is evaluated "
                               f"on {n} test images, 0–{n - 1}")
        return self.data.test[int(index)].to(self.device)

    def collapse(self) -> dict[str, Tensor]:
        """Per-dimension ``kl [D]`` (nats, test set, one sample, seed 0 as in 03-collapse) and
        ``activity [D]`` (Cov_x E_q[z|x]); computed once."""
        if self._collapse is None:
            x = self.test_x
            kl = torch.tensor(evaluate_elbo(self.model, x, self.params.eval_batch_size,
                                            seed=0)["kl_per_dim"])
            activity = posterior_means(self.model, x, self.params.eval_batch_size).var(0).cpu()
            self._collapse = {"kl": kl, "activity": activity}
        return self._collapse

    def judge(self, images: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Classes and confidences ``[N]`` of ``images [N, 784]``; -1 and NaN without a
        classifier."""
        if self.classifier is None:
            return np.full(len(images), -1), np.full(len(images), np.nan)
        judged = classify(self.classifier, images.to(self.device))
        return judged["classes"].cpu().numpy(), judged["confidence"].cpu().numpy()


# --------------------------------------------------------------------------------------------
# Finding and loading models
# --------------------------------------------------------------------------------------------

def _trained_files(profile: str | None) -> dict[str, Path]:
    """spec → file of every finished model: checkpoints first, then published weights."""
    found: dict[str, Path] = {}
    roots = ((layout.project_path("checkpoints"), "*/*/seed-*/*.pt"),
             (layout.project_path("reports"), "*/models/*/seed-*/*.pt"))
    for root, pattern in roots:
        for path in sorted(root.glob(pattern)):
            parts = path.relative_to(root).with_suffix("").parts
            if ".partial" in path.name or (profile and parts[0] != profile):
                continue
            spec = "/".join(p for p in parts if p != "models")
            found.setdefault(spec, path)
    return found


def available(profile: str | None = None) -> list[str]:
    """The specs (``<profile>/<run>/seed-<n>/<arch>``) of every trained model here, of one
    ``profile`` or all: finished checkpoints and the weights published under
    ``reports/<profile>/models/``."""
    return sorted(_trained_files(profile))


def parse_spec(spec: str) -> tuple[str, str, int, str]:
    """``"full/retrained/seed-0/deep-512"`` → ``("full", "retrained", 0, "deep-512")``."""
    parts = spec.strip("/").split("/")
    if (len(parts) != 4 or not parts[2].startswith("seed-")
            or not parts[2].removeprefix("seed-").isdigit()):
        raise ExploreError(f"model {spec!r}: name it as {SPEC_FORMAT} (e.g. "
                           f"'full/retrained/seed-0/deep-512') or give a path to a .pt file")
    if parts[3] not in vae_core.ARCHS:
        raise ExploreError(f"model {spec!r}: unknown architecture {parts[3]!r}; choose one of "
                           f"{', '.join(vae_core.ARCHS)}")
    return parts[0], parts[1], int(parts[2].removeprefix("seed-")), parts[3]


def resolve(spec: str | os.PathLike) -> Path:
    """The file behind ``spec``: a path to a ``.pt`` as given; a spec's checkpoint (full
    precision) when it is here, else its published weights. A model that is not trained → an
    :class:`ExploreError` listing what is, and the command that trains it."""
    as_path = Path(spec)
    if as_path.suffix == ".pt" or as_path.exists():
        if not as_path.exists():
            raise ExploreError(f"no model file at {as_path}")
        if as_path.is_dir() or as_path.suffix != ".pt":
            what = "a folder" if as_path.is_dir() else "not a model file (.pt)"
            trained = available()
            raise ExploreError(
                f"{as_path} is {what}: name a model as {SPEC_FORMAT} (e.g. "
                f"'full/retrained/seed-0/deep-512') or give a .pt file. Trained here: "
                f"{', '.join(trained) if trained else 'none'}")
        return as_path
    profile, run, seed, arch = parse_spec(str(spec))
    for path in (layout.checkpoint_path(profile, run, seed, arch),
                 layout.published_model_path(profile, run, seed, arch)):
        if path.exists():
            return path
    trained = available()
    partial = in_progress_path(layout.checkpoint_path(profile, run, seed, arch))
    state = (f" its training stopped early ({layout.relative(partial)} holds the last finished "
             f"epoch: the same command resumes it);" if partial.exists() else "")
    raise ExploreError(
        f"model {spec!r} is not trained here;{state} train it with `make report PROFILE={profile} "
        f"RUNS={run} ARCHS={arch}` (it trains the seeds listed in params/runs/{run}.yaml). "
        f"Trained here: {', '.join(trained) if trained else 'none'}")


@functools.lru_cache(maxsize=2)
def _study_data(data_dir: Path, source: str | None, val_split: float, split_seed: int,
                train_subset: int, eval_subset: int) -> MNISTSplits:
    # cached: a compare view loads the same split for every model it holds
    return load_mnist(data_dir, source, val_split, split_seed).subset(train_subset, eval_subset)


def _classifier_for(profile: str, device: torch.device) -> tuple[DigitClassifier | None, str | None]:
    for path in (layout.classifier_path(profile), layout.published_classifier_path(profile)):
        if path.exists():
            return load_classifier(path, device), None
    return None, (f"no digit classifier for profile {profile!r}: classes and confidences are "
                  f"left out (`make report PROFILE={profile}` trains it)")


def load(spec: str | os.PathLike, device: str = "auto") -> Explorer:
    """Load a trained model by spec (``<profile>/<run>/seed-<n>/<arch>``) or file path.

    The data split, subsets and evaluation settings are the model's own (its checkpoint's
    parameters); the digit classifier of its profile is loaded when there is one.
    """
    path = resolve(spec)
    dev = pick_device(device)
    model, saved = load_weights(path, dev)
    recorded = dict(saved["meta"].get("params") or {})
    if not recorded:
        raise DataError(f"{path} records no parameters: it was not written by this project's "
                        f"trainer; {repair_advice(path)}")
    # the folders and the MNIST source are this checkout's, not those of the machine that
    # trained; a parameter a later version dropped does not stop an older model from loading
    known = parameter_types()
    recorded = {k: v for k, v in recorded.items() if k in known}
    recorded.update(data_dir="data", reports_dir="reports", checkpoints_dir="checkpoints",
                    mnist_source="", device=str(dev))
    params = check_params(recorded)
    data = _study_data(layout.project_path(params.data_dir), os.environ.get("MNIST_SOURCE"),
                       params.val_split, params.split_seed, params.train_subset,
                       params.eval_subset)
    clf, missing = _classifier_for(params.profile, dev)
    notes = [missing] if missing else []
    dtype = saved["meta"].get("weights_dtype")
    if dtype:
        notes.append(f"published {dtype} weights (no checkpoint here): numbers may differ from "
                     f"the report's in the last digits")
    name = str(spec) if not Path(spec).suffix == ".pt" else (
        f"{params.profile}/{params.run}/seed-{params.seed}/{params.arch}")
    return Explorer(name=name, model=model, params=params, data=data, classifier=clf,
                    device=dev, source=path, notes=notes)


# --------------------------------------------------------------------------------------------
# Drawing helpers
# --------------------------------------------------------------------------------------------

def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (what a widget's image shows)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _label(cls: int, conf: float) -> str:
    return "?" if cls < 0 else f"{cls} · {conf:.2f}"


def _image_row(ax: Any, images: Tensor, titles: Sequence[str] | None = None) -> None:
    """``images [K, 784]`` side by side on one axis, a title over each."""
    ax.imshow(image_grid(images, nrow=len(images)).numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if titles:
        _cell_labels(ax, titles, axis="x")
        ax.xaxis.tick_top()
        ax.tick_params(length=0)


def _cell_labels(ax: Any, labels: Sequence[str], axis: str = "y") -> None:
    """Label each 28-pixel row (``axis="y"``, on the left) or column (``"x"``) of an
    :func:`image_grid` (pad 2) shown on ``ax``."""
    centres = [2 + (IMAGE_SIDE + 2) * i + IMAGE_SIDE / 2 for i in range(len(labels))]
    getattr(ax, f"set_{axis}ticks")(centres)
    getattr(ax, f"set_{axis}ticklabels")(labels, fontsize=7)


def _as_numpy(images: Tensor) -> np.ndarray:
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
    arrays: dict[str, Any] = {"t": t.cpu().numpy(), "ends": _as_numpy(ends)}
    fig = Figure(figsize=(max(6.0, 0.75 * (steps + 2)), 3.4))
    axes = fig.subplots(2, 1)
    for ax, (method, path) in zip(axes, paths.items()):
        images = m.model.decode(path)
        classes, conf = m.judge(images)
        arrays[method] = {"images": _as_numpy(images), "classes": classes, "confidence": conf}
        _image_row(ax, torch.cat([ends[:1], images, ends[1:]]),
                   ["start"] + [_label(c, p) for c, p in zip(classes, conf)] + ["end"])
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
        ax.set_title(f"{method}: {_label(cls, conf)}", fontsize=8)
        ax.axis("off")
        parts.append(f"{method} {_label(cls, conf)}")
    return fig, f"t = {a['t'][frame]:.2f}: " + ", ".join(parts)


def _dims_by_kl(m: Explorer, dims: int | Sequence[int] | str) -> list[int]:
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
    (d,) = _dims_by_kl(m, dim)
    image = traverse(m, [d], torch.tensor([float(value)]), _base_latent(m, index))[0, 0]
    classes, conf = m.judge(image[None])
    (row,), (active,), (collapsed,) = traversal_labels(m, [d])
    state = "collapsed" if collapsed else ("active" if active else "inactive")
    label = f"{row.split(' · active')[0]} ({state}) = {value:+.2f}: class {_label(int(classes[0]), float(conf[0]))}"
    fig = Figure(figsize=(1.9, 2.0))
    ax = fig.subplots()
    ax.imshow(_as_numpy(image[None])[0].reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"z{d} = {value:+.2f}", fontsize=8, color="0.6" if collapsed else "black")
    ax.axis("off")
    return View({"image": _as_numpy(image[None])[0], "class": int(classes[0]),
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
    order = _dims_by_kl(m, dims)
    grid_values = torch.linspace(-span, span, values)
    images = traverse(m, order, grid_values, _base_latent(m, index))
    labels, active, collapsed = traversal_labels(m, order)
    shown = displayable(images.flatten(0, 1)).reshape(images.shape)
    # collapsed rows: drawn at half contrast, so the eye skips them
    shown[torch.from_numpy(collapsed)] = 0.5 + 0.5 * shown[torch.from_numpy(collapsed)] - 0.25
    fig = Figure(figsize=(1.2 + 0.55 * values, 0.6 + 0.5 * len(order)))
    ax = fig.subplots()
    ax.imshow(image_grid(shown.flatten(0, 1), nrow=values).numpy(), cmap="gray", vmin=0, vmax=1)
    _cell_labels(ax, labels)
    for tick, grey in zip(ax.get_yticklabels(), collapsed):
        tick.set_color("0.6" if grey else "black")
    _cell_labels(ax, [f"{float(v):+.1f}" for v in grid_values], axis="x")
    ax.tick_params(length=0)
    where = "z = 0" if index is None else f"test image {index}"
    ax.set_title(f"{m.name}: traversal around {where}; {int(active.sum())} of {len(order)} "
                 f"dimensions active, {int(collapsed.sum())} collapsed (grey)", fontsize=9)
    return View({"dims": np.array(order), "kl": m.collapse()["kl"][order].numpy(), "active": active,
                 "collapsed": collapsed, "values": grid_values.numpy(),
                 "images": _as_numpy(images.flatten(0, 1)).reshape(images.shape)},
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
    arrays = {"means": _as_numpy(means), "draws": draws.cpu().numpy(), "classes": classes,
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
                 f"{_label(int(a['classes'][frame]), float(a['confidence'][frame]))}, "
                 f"distance {a['nn_distance'][frame]:.2f}", fontsize=9)
    fig.tight_layout()
    return fig


def chain_label(view: View, frame: int) -> str:
    """``step t: class c · confidence, nearest training image at d``."""
    a = view.arrays
    return (f"step {frame}: class {_label(int(a['classes'][frame]), float(a['confidence'][frame]))}"
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
        raise ExploreError("compare: give at least one model (load several with explore.load)")
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
    _cell_labels(ax, ["test images"] + [f"{m.name}\nELBO {e.mean():.0f}, σ {m.model.sigma():.3f}"
                                       for m, e in zip(models, elbos)])
    ax.set_xticks([])
    ax.tick_params(length=0)
    ax.set_title("reconstructions of the same test digits", fontsize=9)
    return View({"names": [m.name for m in models], "originals": _as_numpy(x),
                 "reconstructions": np.stack([_as_numpy(r) for r in recons]),
                 "elbo": np.stack(elbos), "sigma": np.array([m.model.sigma() for m in models])},
                fig, [n for m in models for n in m.notes])


#: MNIST's digits were fitted into a 20 × 20 box and centred by their centre of mass in 28 × 28.
MNIST_BOX = 20


def _read_picture(image: str | os.PathLike | np.ndarray) -> tuple[np.ndarray, str, list[str]]:
    """The picture as a float ``[H, W]`` greyscale array in [0, 1], its name, and notes."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, np.ndarray):
        array = np.asarray(image, dtype=np.float64)
        if array.ndim == 1 and array.size == IMAGE_PIXELS:
            array = array.reshape(IMAGE_SIDE, IMAGE_SIDE)
        if array.ndim != 2:
            raise ExploreError(f"image: a 2-D greyscale array (or 784 pixels), got shape "
                               f"{array.shape}")
        return np.clip(array / (255.0 if array.max() > 1.0 else 1.0), 0, 1), "the array", []
    path = Path(image)
    if not path.is_file():
        raise ExploreError(f"image: no file at {path}")
    try:
        pic = Image.open(path)
        frames = getattr(pic, "n_frames", 1)
        pic.load()
    except Image.DecompressionBombError as exc:
        raise ExploreError(f"image: {path} is too large to open safely ({exc}); scale it down "
                           f"to a few hundred pixels a side — the model sees 28 × 28") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise ExploreError(f"image: {path} is not a picture Pillow can read ({exc}); give a "
                           f"PNG or JPEG of one digit") from exc
    notes = []
    if frames > 1:
        notes.append(f"{path.name}: an animation of {frames} frames; its first is used")
    if pic.mode not in ("L", "1", "I", "I;16", "F"):
        notes.append(f"{path.name}: {pic.mode} converted to greyscale")
    if pic.mode in ("RGBA", "LA", "P", "PA"):
        rgba = pic.convert("RGBA")
        # a transparent background is paper: flatten it onto white before going grey
        grey = np.asarray(Image.alpha_composite(Image.new("RGBA", pic.size, "white"), rgba)
                          .convert("L"), dtype=np.float64) / 255.0
        alpha = np.asarray(rgba, dtype=np.float64)[..., 3] / 255.0
        if float(grey.max() - grey.min()) < 0.1 and float(alpha.max() - alpha.min()) >= 0.1:
            # white ink on a transparent background: the strokes are where it is opaque
            notes.append(f"{path.name}: the colour shows no stroke, its transparency does: the "
                         f"opaque strokes are taken as the digit")
            return alpha, path.name, notes
        return grey, path.name, notes
    return np.asarray(pic.convert("L"), dtype=np.float64) / 255.0, path.name, notes


#: The width of MNIST's strokes after its scaling, in pixels of the 28 × 28 image.
MNIST_STROKE = 2.2


def stroke_width(ink: np.ndarray) -> float:
    """The mean width (pixels) of the strokes in ``ink [H, W]`` (light on dark): 2·area ÷
    perimeter of the inked pixels — for a stroke of width w and length L, 2·wL / 2L."""
    mask = ink > 0.5 * ink.max()
    padded = np.pad(mask, 1)
    inner = (padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
    edge = int((mask & ~inner).sum())
    return 2.0 * float(mask.sum()) / max(edge, 1)


def _thicken(ink: np.ndarray, scale: float) -> tuple[np.ndarray, str | None]:
    """``ink`` with its strokes widened so that, shrunk by ``scale``, they come out about
    :data:`MNIST_STROKE` pixels wide (a pen line on a large canvas would shrink to a faint
    hair); a note when it widened them."""
    from scipy.ndimage import grey_dilation

    width = stroke_width(ink)
    target = MNIST_STROKE / scale
    if width * scale >= 0.75 * MNIST_STROKE:
        return ink, None
    size = int(round(target - width)) | 1                    # odd: the stroke grows evenly
    return (grey_dilation(ink, size=(size, size)),
            f"strokes {width:.0f} px wide would shrink to {width * scale:.1f} px: widened to "
            f"≈ {MNIST_STROKE:g} px, as MNIST's")


def _fit_like_mnist(ink: np.ndarray) -> tuple[np.ndarray, str | None]:
    """``ink [H, W]`` (light digit on dark) cropped to its ink, its strokes widened where
    scaling would thin them to a hair (:func:`_thicken`, with a note), scaled so its longer side
    is :data:`MNIST_BOX` pixels, and placed in 28 × 28 with its centre of mass at the centre."""
    from PIL import Image

    rows, cols = np.nonzero(ink > 0.25 * ink.max())
    crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = MNIST_BOX / max(crop.shape)
    crop, note = _thicken(crop, scale)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize(
        size, Image.Resampling.LANCZOS), dtype=np.float64) / 255.0
    frame = np.zeros((IMAGE_SIDE, IMAGE_SIDE))
    ys, xs = np.indices(small.shape)
    mass = small.sum()
    top = int(np.clip(round(IMAGE_SIDE / 2 - (ys * small).sum() / mass), 0, IMAGE_SIDE - size[1]))
    left = int(np.clip(round(IMAGE_SIDE / 2 - (xs * small).sum() / mass), 0, IMAGE_SIDE - size[0]))
    frame[top:top + size[1], left:left + size[0]] = small
    return frame, note


def load_image(image: str | os.PathLike | np.ndarray) -> tuple[Tensor, list[str]]:
    """A picture of one digit as the model sees it: ``[784]`` in [0, 1], a light digit on a dark
    background, prepared as MNIST's were. Colour is made grey; a dark digit on light paper is
    inverted; a picture of another size is cropped to its ink, scaled into 20 × 20 and centred
    by its centre of mass in 28 × 28 — each with a note (a 28 × 28 picture is taken as it is).
    Not an image, blank, or smaller than 8 × 8 pixels → an :class:`ExploreError` naming it."""
    pixels, label, notes = _read_picture(image)
    if min(pixels.shape) < 8:
        raise ExploreError(f"image: {label} is {pixels.shape[1]} × {pixels.shape[0]} pixels; a "
                           f"digit needs at least 8 × 8 (MNIST's are 28 × 28)")
    # MNIST is a light digit on black: a picture mostly light is a dark digit on paper
    if float(np.median(pixels)) > 0.5:
        notes.append(f"{label}: dark digit on a light background inverted (MNIST digits are "
                     f"light on black)")
        pixels = 1.0 - pixels
    if float(pixels.max() - np.median(pixels)) < 0.1:
        raise ExploreError(f"image: {label} is blank (no stroke stands out from its background)")
    if pixels.shape != (IMAGE_SIDE, IMAGE_SIDE):
        notes.append(f"{label}: {pixels.shape[1]} × {pixels.shape[0]} pixels cropped to the digit, "
                     f"scaled into 20 × 20 and centred in 28 × 28, as MNIST's digits are")
        pixels, thickened = _fit_like_mnist(np.clip(pixels - np.median(pixels), 0, None))
        notes += [f"{label}: {thickened}"] if thickened else []
    return torch.from_numpy(pixels.astype(np.float32)).reshape(IMAGE_PIXELS).clamp(0, 1), notes


@torch.no_grad()
def own_digit(m: Explorer, image: str | os.PathLike | np.ndarray, dims: int = 6,
              span: float = 3.0, values: int = 9) -> View:
    """Your own digit: the image file (or array) encoded, reconstructed and traversed along its
    ``dims`` most informative latent dimensions. ``arrays``: ``input [784]``,
    ``reconstruction [784]``, ``classes [2]`` and ``confidence [2]`` (input, reconstruction),
    ``elbo`` (one sample, nats), ``dims [R]``, ``traversal [R, V, 784]``."""
    x, notes = load_image(image)
    x = x.to(m.device)
    q = m.model.encode(x[None])
    recon = m.model.decode(q.mean)[0]
    classes, conf = m.judge(torch.stack([x, recon]))
    gen = torch.Generator(device=m.device).manual_seed(0)
    elbo = float(vae_core.elbo_terms(m.model, x[None], gen).elbo[0])
    order = _dims_by_kl(m, "all")[:dims]
    grid_values = torch.linspace(-span, span, values)
    images = traverse(m, order, grid_values, q.mean[0])
    labels, _, _ = traversal_labels(m, order)
    fig = Figure(figsize=(2.2 + 0.55 * values, 1.9 + 0.5 * len(order)))
    grid = fig.add_gridspec(2, 1, height_ratios=[1.6, 0.5 * len(order)], hspace=0.25)
    ax = fig.add_subplot(grid[0, 0])
    _image_row(ax, torch.stack([x, recon]).cpu(),
               [f"yours: {_label(int(classes[0]), float(conf[0]))}",
                f"reconstruction: {_label(int(classes[1]), float(conf[1]))}"])
    ax2 = fig.add_subplot(grid[1, 0])
    ax2.imshow(image_grid(images.flatten(0, 1), nrow=values).numpy(), cmap="gray", vmin=0, vmax=1)
    _cell_labels(ax2, labels)
    _cell_labels(ax2, [f"{float(v):+.1f}" for v in grid_values], axis="x")
    ax2.tick_params(length=0)
    fig.suptitle(f"{m.name}: your digit, ELBO {elbo:.0f} nats", fontsize=9)
    if notes:      # the conversions, where whoever calls own_digit alone sees them too
        fig.text(0.01, 0.005, "\n".join(notes), fontsize=6, va="bottom", wrap=True)
    return View({"input": _as_numpy(x[None])[0], "reconstruction": _as_numpy(recon[None])[0],
                 "classes": classes, "confidence": conf, "elbo": elbo, "dims": np.array(order),
                 "traversal": _as_numpy(images.flatten(0, 1)).reshape(images.shape)},
                fig, notes + list(m.notes))


# --------------------------------------------------------------------------------------------
# What notebooks/explore.ipynb needs besides the views
# --------------------------------------------------------------------------------------------
#: The exploration notebook's parameters and their types.
NOTEBOOK_SETTINGS: dict[str, type] = {"model": str, "compare": list, "interactive": bool,
                                      "device": str, "digit_image": str}
#: The model the notebook opens when none is named: the committed study's, if it is here.
PREFERRED_MODEL = "full/retrained/seed-0/deep-512"


def check_settings(namespace: dict[str, Any]) -> dict[str, Any]:
    """The exploration notebook's parameters from its namespace, type-checked; ``model = ""``
    becomes :func:`default_model`."""
    settings = {}
    for name, kind in NOTEBOOK_SETTINGS.items():
        value = namespace.get(name)
        if not isinstance(value, kind):
            raise ExploreError(f"{name}: expected {kind.__name__}, got {type(value).__name__} "
                               f"{value!r}")
        settings[name] = value
    bad = [s for s in settings["compare"] if not isinstance(s, str)]
    if bad:
        raise ExploreError(f"compare: a list of model names ({SPEC_FORMAT}), got {bad!r}")
    settings["model"] = settings["model"] or default_model()
    return settings


def default_model() -> str:
    """:data:`PREFERRED_MODEL` when it is here, else the first trained model (published weights
    of ``full`` first); none → an :class:`ExploreError` naming the command that trains some."""
    trained = available()
    if PREFERRED_MODEL in trained:
        return PREFERRED_MODEL
    if not trained:
        raise ExploreError("no trained model here: `make report PROFILE=quick` trains the quick "
                           "profile's (about 11 minutes on 2 cores), `make report` the full study")
    return sorted(trained, key=lambda s: (not s.startswith("full/"), s))[0]


def demo_digit(path: str | os.PathLike) -> Path:
    """Write a stand-in for a photographed digit to ``path``: a dark, slanted "7" on light grey
    paper, 96 × 96 RGB — what :func:`own_digit` has to convert. Returns ``path``."""
    from PIL import Image, ImageDraw

    pic = Image.new("RGB", (96, 96), (236, 232, 224))
    pen = ImageDraw.Draw(pic)
    pen.line([(22, 20), (74, 18), (40, 80)], fill=(30, 30, 40), width=9, joint="curve")
    pen.line([(36, 50), (64, 48)], fill=(30, 30, 40), width=6)
    pic.save(path)
    return Path(path)
