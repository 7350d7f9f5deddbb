"""The checkpoint format: one ``.pt`` file per trained model, rewritten after every epoch.

A checkpoint is a dict with exactly these keys (``torch.save``; loaded with
``weights_only=True``, so no code is unpickled):

=============  ================================================================================
``model``      the VAE's ``state_dict``
``optimizer``  Adam's ``state_dict`` (moments and step counters), so training resumes exactly
``rng``        the batch-order, noise and global torch generator states
``history``    the learning curves so far (``state.History.as_dict()``)
``config``     the ``state.TrainConfig`` it was trained with (a resume with another is refused)
``meta``       provenance: parameters, git commit, package versions, the backend that ran
=============  ================================================================================
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

import vae_core

from vae_report import files
from vae_report.errors import DataError
from vae_report.files import atomic_torch_save, torch_load_or_explain

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


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by ``loop.train_models`` onto the CPU (its generator states must
    stay CPU byte tensors; ``load_state_dict`` moves weights and optimiser state to their
    device); a clear error when missing or damaged."""
    path = Path(path)
    if not path.exists():
        unfinished = in_progress_path(path)
        state = (f"its training is not finished ({unfinished} holds the last finished epoch); "
                 if unfinished.exists() else "")
        raise FileNotFoundError(f"checkpoint {path} does not exist; {state}train it first: "
                                f"`make cells PROFILE=<profile> RUNS=<run> ARCHS=<arch>` (or "
                                f"vae-train --profile <profile> --run <run> --arch "
                                f"<arch>), which resumes from the last finished epoch")
    ckpt = torch_load_or_explain(path, "checkpoint", "delete it and retrain")
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
    ckpt = load_checkpoint(path)
    return _built(ckpt["config"], ckpt["model"]).to(device).eval(), ckpt


def _built(config: dict[str, Any], state: dict[str, torch.Tensor]) -> vae_core.VAE:
    """The model ``config`` names (``vae_core.build_model``), holding ``state`` in float32."""
    model = vae_core.build_model(config["arch"], config["latent_dim"], config["init"],
                                 config.get("decoder_sigma", "softplus"),
                                 config.get("encoder_std", "softplus"))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model


# --------------------------------------------------------------------------------------------
# Published weights: what the committed study carries so a clone can explore its models
# --------------------------------------------------------------------------------------------
#: What a published model file holds: the weights, the training config and the provenance (no
#: optimiser state, generator states or history: those are for resuming, not for looking).
PUBLISHED_KEYS: tuple[str, ...] = ("model", "config", "meta")

#: The dtype the published weights are stored in. float16 halves the committed study's size
#: (4.5 M parameters a run: 18 MB in float32, 9 MB in float16); the 0-dim decoder σ stays float32
#: (it scales every pixel's likelihood). ``scripts/publish_fidelity.py`` measures what it moves.
PUBLISHED_DTYPE = torch.float16


def published_state(state: dict[str, torch.Tensor],
                    dtype: torch.dtype = PUBLISHED_DTYPE) -> dict[str, torch.Tensor]:
    """``state`` with every floating tensor of ≥ 1 dimension cast to ``dtype`` (on the CPU)."""
    return {k: (v.detach().cpu().to(dtype) if v.is_floating_point() and v.dim() > 0
                else v.detach().cpu())
            for k, v in state.items()}


def publish_model(checkpoint: str | os.PathLike, out: str | os.PathLike,
                  dtype: torch.dtype = PUBLISHED_DTYPE) -> Path:
    """Write the weights, config and provenance of a finished checkpoint to ``out`` (atomically),
    the weights in ``dtype``. Returns ``out``."""
    ckpt = load_checkpoint(checkpoint)
    meta = {**ckpt["meta"], "published_from": Path(checkpoint).name,
            "weights_dtype": str(dtype).removeprefix("torch."),
            "epochs_trained": len(ckpt["history"].get("epoch", []))}
    atomic_torch_save({"model": published_state(ckpt["model"], dtype), "config": ckpt["config"],
                       "meta": meta}, out)
    return Path(out)


def publish_classifier(path: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the digit classifier's cache (``classifier.train_classifier``: model, config, log)
    to ``out`` with its weights in float16; ``classifier.load_classifier`` reads it (its float32
    layers take the float16 values exactly)."""
    saved = torch_load_or_explain(path, "the digit classifier", "delete it and rerun "
                                  "`make report`")
    if not isinstance(saved, dict) or "model" not in saved:
        raise DataError(f"{path} is not the digit classifier's cache; delete it and rerun "
                        f"`make report`")
    atomic_torch_save({**saved, "model": published_state(saved["model"])}, out)
    return Path(out)


def load_weights(path: str | os.PathLike,
                 device: str | torch.device = "cpu") -> tuple[vae_core.VAE, dict[str, Any]]:
    """The model (float32, eval mode) of a checkpoint *or* a published model file, and the file's
    dict. A file that is neither is refused with its name."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    saved = torch_load_or_explain(path, "model file", lambda: repair_advice(path), "cpu")
    missing = [k for k in PUBLISHED_KEYS if not isinstance(saved, dict) or k not in saved]
    if missing or not isinstance(saved.get("config"), dict) or "arch" not in saved["config"]:
        raise DataError(f"{path} is not a model of this project (it lacks "
                        f"{', '.join(missing) or 'config.arch'}): give a checkpoint under "
                        f"checkpoints/ or a published model under reports/<profile>/models/")
    try:
        model = _built(saved["config"], saved["model"])
    except (ValueError, KeyError, RuntimeError) as exc:
        raise DataError(f"{path} does not hold the weights its config names ({exc}); "
                        f"{repair_advice(path)}") from exc
    return model.to(device).eval(), saved


def repair_advice(path: str | os.PathLike) -> str:
    """How to repair a damaged model file (:func:`files.repair_advice`): a published one is
    restored from git; a checkpoint is retrained."""
    return files.repair_advice(path, "delete it and rerun `make report` (or `make cells`) to "
                                     "retrain it")


def main(argv: list[str] | None = None) -> int:
    """``python -m vae_report.train.checkpoints SOURCE OUT``: publish a finished checkpoint (or, with
    ``--classifier``, the digit classifier's cache) as float16 weights; the workflow's rule for
    ``reports/<profile>/models/``. One error line naming the file on failure."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(description=main.__doc__.split("\n")[0] if main.__doc__ else "")
    ap.add_argument("source")
    ap.add_argument("out")
    ap.add_argument("--classifier", action="store_true", help="SOURCE is the digit classifier")
    args = ap.parse_args(argv)
    try:
        if args.classifier:
            out = publish_classifier(args.source, args.out)
        else:
            out = publish_model(args.source, args.out)
    except (OSError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"published {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
