"""Pictures of images: grids, uint8 arrays, and the chain's GIF and filmstrip."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from vae_core import IMAGE_PIXELS, IMAGE_SIDE

from vae_report.data import finite_pixels

if TYPE_CHECKING:                 # a type only: the drawing needs no metric
    from vae_report.metrics.chain import ChainResult


def displayable(images: Tensor) -> Tensor:
    """``[N, 784]`` → float32 on the CPU in ``[0, 1]`` (NaN and +inf white, −inf black)."""
    return finite_pixels(images.detach().float().cpu()).clamp(0, 1)


def image_grid(images: Tensor, nrow: int, pad: int = 2, pad_value: float = 1.0) -> Tensor:
    """Tile ``[N, 784]`` images, ``nrow`` to a row, into one ``[H, W]`` array in ``[0, 1]``
    (:func:`displayable`), ``pad`` pixels of ``pad_value`` around each: torchvision's
    ``make_grid`` on one channel."""
    from torchvision.utils import make_grid

    imgs = displayable(images).reshape(-1, 1, IMAGE_SIDE, IMAGE_SIDE)
    return make_grid(imgs, nrow=nrow, padding=pad, pad_value=pad_value)[0]


def to_uint8_images(images: Tensor) -> Any:
    """``[N, 784]`` floats → ``[N, 28, 28]`` uint8 numpy (:func:`displayable`)."""
    x = displayable(images)
    return (x.reshape(-1, IMAGE_SIDE, IMAGE_SIDE) * 255).round().to(torch.uint8).numpy()


def grid_uint8(images: Tensor, nrow: int, scale: int = 1) -> Any:
    """:func:`image_grid` as uint8 numpy ``[H, W]``, optionally enlarged ``scale`` times."""
    grid = image_grid(images, nrow=nrow)
    if scale > 1:
        grid = grid.repeat_interleave(scale, 0).repeat_interleave(scale, 1)
    return (grid * 255).round().to(torch.uint8).numpy()


def with_caption(image: Any, text: str, height: int = 13) -> Any:
    """A uint8 ``[H, W]`` image with ``text`` (PIL's built-in bitmap font, black on white) in a
    strip of ``height`` pixels above it: the GIF frames' step counter."""
    import numpy as np
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (image.shape[1], image.shape[0] + height), color=255)
    canvas.paste(Image.fromarray(image), (0, height))
    ImageDraw.Draw(canvas).text((2, 1), text, fill=0)
    return np.asarray(canvas)


def filmstrip_steps(n_steps: int) -> list[int]:
    """Chain steps shown in a filmstrip: dense at the start, where the chain moves most."""
    picks = [0, 1, 2, 3, 5, 10, 20, 30, 50, 75, 100, 150, 200]
    return [s for s in picks if s < n_steps] + [n_steps]


def save_chain_animation(chain: ChainResult, gif_path: str | os.PathLike,
                         filmstrip_path: str | os.PathLike, nrow: int = 4,
                         frame_ms: int = 100, strip_chains: int = 4) -> None:
    """The chain as an animated GIF (all chains, one frame per step with its step number above
    it, looping) and a PNG filmstrip (``strip_chains`` chains as rows, :func:`filmstrip_steps` as
    columns).

    Frames show the start images, then the decoder mean of each step's z
    (:meth:`ChainResult.frames`): the chain's states add pixel noise of the decoder's sigma on
    top, which would make every frame a different speckle (and the GIFs ten times larger)
    without showing where the chain goes.
    """
    import imageio.v3 as iio

    frames = chain.frames()                                           # [T+1, B, 784]
    # 16 grey levels instead of 256 make the GIF ~3x smaller at no visible cost; the report
    # embeds 14 of them.
    gif = [with_caption((torch.from_numpy(grid_uint8(f, nrow=nrow)).float() / 17).round().mul(17)
                        .to(torch.uint8).numpy(), f"step {t}")
           for t, f in enumerate(frames)]
    iio.imwrite(gif_path, gif, extension=".gif", duration=frame_ms, loop=0)
    save_filmstrip(frames, filmstrip_path, strip_chains)


def save_filmstrip(frames: Tensor, path: str | os.PathLike, strip_chains: int = 4) -> None:
    """A PNG of ``frames [T+1, B, 784]``: ``strip_chains`` chains as rows, the steps of
    :func:`filmstrip_steps` as columns (a chain that broke early shows the steps it ran)."""
    import imageio.v3 as iio

    steps = filmstrip_steps(len(frames) - 1)
    k = min(strip_chains, frames.shape[1])
    strip = frames[steps, :k].transpose(0, 1).reshape(-1, IMAGE_PIXELS)   # a row per chain
    iio.imwrite(path, grid_uint8(strip, nrow=len(steps)), extension=".png")
