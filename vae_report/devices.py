"""Where the arithmetic runs: the device, torch's threads, subnormal floats."""
from __future__ import annotations

import re

import torch

from vae_report.errors import ParameterError

#: What the ``device`` parameter accepts.
DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_device_name(name: str) -> str:
    """``name`` if it is ``auto``, ``cpu``, ``cuda`` or ``cuda:<n>``; else a ParameterError."""
    if not DEVICE_PATTERN.match(name):
        raise ParameterError(f"device: unknown device {name!r}; use 'auto' (CUDA when present, "
                             f"else CPU), 'cpu', 'cuda' or 'cuda:<n>'")
    return name


def pick_device(name: str = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else CPU; ``"cpu"`` / ``"cuda[:n]"``: that device."""
    check_device_name(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was asked for but CUDA is not available; "
                           f"use device='cpu' or 'auto'")
    return torch.device(name)


def set_threads(threads: int) -> None:
    """Set torch's intra-op threads (0 leaves torch's default)."""
    if threads > 0:
        torch.set_num_threads(threads)


def flush_denormals() -> None:
    """Make the CPU treat subnormal floats (|x| < 1.2e-38) as zero.

    Why: Adam's first moments of weights whose gradient is always zero (MNIST's blank border
    pixels, dead ReLUs) decay geometrically through the subnormal range, where x86 arithmetic
    runs on a slow microcode path. In the first full run a quarter of the first layer's moments
    were subnormal by epoch 17 and epochs slowed from 25 s to 60-80 s; values that small change
    nothing in the results. A process-wide setting, so it is made by the trainers, not at import.
    """
    torch.set_flush_denormal(True)
