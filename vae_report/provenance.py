"""What made an artifact: parameters, git commit, package versions, machine."""
from __future__ import annotations

import platform
import subprocess
import time
from typing import Any, Mapping

import torch

from vae_report import layout


def git_commit() -> str:
    """The project's git commit, with ``+dirty`` if a tracked file outside ``reports/`` differs
    from it, or ``"unknown"``. Rendered outputs are left out: a rerun rewrites the committed
    ``reports/full`` and would otherwise mark every cell of a clean checkout dirty."""
    root = layout.PROJECT_ROOT
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)reports"],
                               cwd=root, capture_output=True, text=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages the results depend on."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for pkg in ("torch", "torchvision", "numpy", "pandas", "matplotlib", "papermill", "nbconvert"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return versions


def provenance(params: Mapping[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """Parameters, git commit, package versions and machine, to save beside every artifact;
    ``extra`` adds keys (e.g. which training backend ran)."""
    return {"params": dict(params or {}), "git_commit": git_commit(),
            "versions": package_versions(), "machine": platform.machine(),
            "threads": torch.get_num_threads(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **extra}
