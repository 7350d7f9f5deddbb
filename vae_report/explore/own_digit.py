"""A digit of your own: an image file (or array) read, cut to its ink, scaled and stroked like
an MNIST digit, then encoded, reconstructed and traversed by a trained model."""
from __future__ import annotations

from pathlib import Path
import os

from torch import Tensor
import numpy as np
import torch

from vae_core import IMAGE_PIXELS, IMAGE_SIDE
import vae_core

from vae_report.pictures import image_grid
from .models import Explorer, ExploreError
from .views import (Figure, View, as_numpy, cell_labels, class_label, dims_by_kl, image_row,
                    traversal_labels, traverse)
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
    order = dims_by_kl(m, "all")[:dims]
    grid_values = torch.linspace(-span, span, values)
    images = traverse(m, order, grid_values, q.mean[0])
    labels, _, _ = traversal_labels(m, order)
    fig = Figure(figsize=(2.2 + 0.55 * values, 1.9 + 0.5 * len(order)))
    grid = fig.add_gridspec(2, 1, height_ratios=[1.6, 0.5 * len(order)], hspace=0.25)
    ax = fig.add_subplot(grid[0, 0])
    image_row(ax, torch.stack([x, recon]).cpu(),
               [f"yours: {class_label(int(classes[0]), float(conf[0]))}",
                f"reconstruction: {class_label(int(classes[1]), float(conf[1]))}"])
    ax2 = fig.add_subplot(grid[1, 0])
    ax2.imshow(image_grid(images.flatten(0, 1), nrow=values).numpy(), cmap="gray", vmin=0, vmax=1)
    cell_labels(ax2, labels)
    cell_labels(ax2, [f"{float(v):+.1f}" for v in grid_values], axis="x")
    ax2.tick_params(length=0)
    fig.suptitle(f"{m.name}: your digit, ELBO {elbo:.0f} nats", fontsize=9)
    if notes:      # the conversions, where whoever calls own_digit alone sees them too
        fig.text(0.01, 0.005, "\n".join(notes), fontsize=6, va="bottom", wrap=True)
    return View({"input": as_numpy(x[None])[0], "reconstruction": as_numpy(recon[None])[0],
                 "classes": classes, "confidence": conf, "elbo": elbo, "dims": np.array(order),
                 "traversal": as_numpy(images.flatten(0, 1)).reshape(images.shape)},
                fig, notes + list(m.notes))


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
