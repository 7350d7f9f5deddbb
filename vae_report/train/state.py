"""What a training run keeps between epochs and sittings: its configuration (what the trainer
needs of a model's parameters), its history, its generators' states, and whether a checkpoint
may resume it. ``loop`` trains; ``checkpoints`` is the file format that holds these.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor

from .checkpoints import in_progress_path


@dataclass(frozen=True)
class TrainConfig:
    """What the trainer needs of a model's parameters (:class:`vae_report.params.StudyParams`,
    whose values are ``params/*.yaml``'s): the model is built from ``arch``/``init``/…, and a
    checkpoint records these to refuse a resume under others. Build it with :meth:`from_params`.
    """

    arch: str
    latent_dim: int
    init: str
    decoder_sigma: str
    encoder_std: str
    lr: float
    epochs: int
    batch_size: int
    seed: int
    eval_batch_size: int
    backend: str
    # The validation ELBO uses fresh noise from this fixed seed each epoch, so it is comparable
    # across epochs and never advances the training RNG (which keeps resumed runs exact).
    eval_seed: int
    # A host sync to look for NaN costs time at batch 16, so losses are checked every N steps
    # (and at the end of every epoch); the error still names the first bad step exactly.
    check_every: int

    @classmethod
    def from_params(cls, p: Any) -> "TrainConfig":
        """The training fields of a ``params.StudyParams``."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in p.as_dict().items() if k in names})


@dataclass
class History:
    """Per-epoch learning curves (ELBO in nats per image, higher is better), the seconds each
    epoch's training took (for a seed trained in a stack of S: 1/S of the stack's epoch) and the
    backend that trained it."""

    epoch: list[int] = field(default_factory=list)
    train_elbo: list[float] = field(default_factory=list)
    val_elbo: list[float] = field(default_factory=list)
    val_log_lik: list[float] = field(default_factory=list)
    val_kl: list[float] = field(default_factory=list)
    decoder_std: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    backend: list[str] = field(default_factory=list)

    def append(self, **row: Any) -> None:
        for key, value in row.items():
            getattr(self, key).append(value)

    def as_dict(self) -> dict[str, list]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, saved: Mapping[str, list]) -> "History":
        """A history from a checkpoint; one written before backends were recorded gets
        ``"unrecorded"`` for its epochs."""
        saved = dict(saved)
        saved.setdefault("backend", ["unrecorded"] * len(saved.get("epoch", [])))
        return cls(**saved)


def rng_state(perm_gen: torch.Generator, noise_gen: torch.Generator,
               torch_state: Tensor) -> dict[str, Any]:
    """The generator states a checkpoint keeps: CPU byte tensors whatever the training device
    (both training generators are CPU generators: ``engine.epoch_draws``), and the device kind
    they were drawn for."""
    return {"perm": perm_gen.get_state(), "noise": noise_gen.get_state(),
            "torch": torch_state.cpu(), "noise_device": noise_gen.device.type}


def set_rng_state(state: Mapping[str, Any], perm_gen: torch.Generator,
                   noise_gen: torch.Generator, checkpoint: Path) -> None:
    """Restore what :func:`rng_state` saved; a state drawn for another kind of generator (a
    checkpoint of a version that drew its noise on the GPU) stops with the fix named."""
    saved_kind = state.get("noise_device", "cpu")
    if saved_kind != noise_gen.device.type:
        raise ValueError(f"checkpoint {checkpoint} holds a {saved_kind} noise generator's state, "
                         f"which cannot continue as a {noise_gen.device.type} one; delete it to "
                         f"train afresh")
    perm_gen.set_state(state["perm"].cpu())
    noise_gen.set_state(state["noise"].cpu())
    torch.set_rng_state(state["torch"].cpu())


# Keys that may change between a run and its resumption without changing its numbers: more
# epochs extend the run; how often NaN is looked for does not touch the arithmetic.
_RESUMABLE_KEYS = {"epochs", "check_every"}


#: The value a key had before checkpoints recorded it: a checkpoint that predates the key was
#: trained with it.
_BEFORE_RECORDED = {"backend": "auto", "decoder_sigma": "softplus", "encoder_std": "softplus"}


def _config_changes(saved: Mapping[str, Any], config: TrainConfig) -> dict[str, tuple[Any, Any]]:
    saved = {**_BEFORE_RECORDED, **saved}
    return {k: (saved.get(k), v) for k, v in dataclasses.asdict(config).items()
            if k not in _RESUMABLE_KEYS and saved.get(k) != v}


def check_trained_with(ckpt: Mapping[str, Any], path: Path, config: TrainConfig,
                       finished: bool = False) -> None:
    """A ValueError when the checkpoint ``ckpt`` (read from ``path``) was trained with another
    config than ``config`` — or, with ``finished``, for fewer epochs — naming what differs."""
    changed = _config_changes(ckpt["config"], config)
    if changed:
        raise ValueError(f"checkpoint {path} was written with a different config "
                         f"(key: (checkpoint, now) = {changed}); delete it to train afresh")
    done = len(ckpt["history"]["epoch"])
    if finished and done < config.epochs:
        raise ValueError(f"checkpoint {path} holds {done} epochs, the parameters ask for "
                         f"{config.epochs}: train on (`make cells`), which resumes it")


def kept_checkpoint_note(checkpoint: Path, history: History) -> str:
    for path in (in_progress_path(checkpoint), checkpoint):
        if path.exists() and history.epoch:
            return f"the checkpoint of the last good epoch ({history.epoch[-1]}) is kept at {path}"
    return "no checkpoint was written (no epoch finished)"
