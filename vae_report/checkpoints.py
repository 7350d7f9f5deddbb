"""The checkpoint format: one ``.pt`` file per trained model, rewritten after every epoch.

A checkpoint is a dict with exactly these keys (``torch.save``; loaded with
``weights_only=True``, so no code is unpickled):

=============  ================================================================================
``model``      the VAE's ``state_dict``
``optimizer``  Adam's ``state_dict`` (moments and step counters), so training resumes exactly
``rng``        the batch-order, noise and global torch generator states
``history``    the learning curves so far (``training.History.as_dict()``)
``config``     the ``training.TrainConfig`` it was trained with (a resume with another is refused)
``meta``       provenance: parameters, git commit, package versions, the backend that ran
=============  ================================================================================
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

import vae_core

from .errors import DataError
from .files import atomic_torch_save, torch_load_or_explain

CHECKPOINT_KEYS: tuple[str, ...] = ("model", "optimizer", "rng", "history", "config", "meta")


def in_progress_path(checkpoint: str | os.PathLike) -> Path:
    """Where a training run keeps its per-epoch checkpoints until it finishes:
    ``<arch>.partial.pt`` beside ``<arch>.pt``. The finished checkpoint takes the final name
    only at the end, so the final name always means "trained for every epoch asked", and a
    workflow engine that clears a job's outputs before rerunning it cannot delete the progress
    of an interrupted run (it is not an output)."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(f"{checkpoint.stem}.partial{checkpoint.suffix}")


def save_checkpoint(path: str | os.PathLike, **parts: Any) -> None:
    """Write a checkpoint atomically (a kill mid-write leaves the previous epoch's file)."""
    if set(parts) != set(CHECKPOINT_KEYS):
        raise TypeError(f"a checkpoint holds exactly {', '.join(CHECKPOINT_KEYS)}; got "
                        f"{', '.join(sorted(parts))}")
    atomic_torch_save({key: parts[key] for key in CHECKPOINT_KEYS}, path)


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``training.train``; a clear error when missing or damaged."""
    path = Path(path)
    if not path.exists():
        unfinished = in_progress_path(path)
        state = (f"its training is not finished ({unfinished} holds the last finished epoch); "
                 if unfinished.exists() else "")
        raise FileNotFoundError(f"checkpoint {path} does not exist; {state}run the training "
                                f"notebook (01-train) for this architecture and run first")
    ckpt = torch_load_or_explain(path, "checkpoint", "delete it and retrain", device)
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise DataError(f"checkpoint {path} lacks {', '.join(missing)}: it was not written by "
                        f"this project's trainer; delete it and retrain")
    return ckpt


def load_model(path: str | os.PathLike,
               device: str | torch.device = "cpu") -> tuple[vae_core.VAE, dict[str, Any]]:
    """The trained model of a checkpoint (in eval mode) and the checkpoint itself.

    The model is rebuilt from the checkpoint's config with ``vae_core.build_model``, so this
    serves the architectures of ``vae_core.ARCHS``.
    """
    ckpt = load_checkpoint(path, device)
    cfg = ckpt["config"]
    model = vae_core.build_model(cfg["arch"], cfg["latent_dim"], cfg["init"]).to(device)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, ckpt
