"""The trainer: Adam on the negative ELBO, a checkpoint every epoch, exact resume.

Two backends compute a step (``TrainConfig.backend``):

* ``autograd`` — the reference: ``vae_core.elbo_terms(...).loss.backward()`` and
  ``torch.optim.Adam.step()``. Trains any ``nn.Module`` with the VAE's interface.
* ``fast`` — ``fast_step.elbo_step`` (the gradient written by hand) and the direct fused-Adam
  call: the same numbers up to float rounding, 1.2–1.8× the throughput at batch 16 on a 2-core
  CPU (docs/performance.md).
* ``auto`` (params/base.yaml's) — ``fast`` when ``fast_step.unsupported_reason(model)`` finds nothing, else
  ``autograd``. The backend that ran is recorded per epoch in the history and in the
  checkpoint's ``meta``.

Both backends draw the noise in the same order from the same generator, so a backend changes a
run's numbers only by rounding.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

import vae_core

from vae_report.devices import flush_denormals
from vae_report.errors import NonFiniteLossError
from vae_report.metrics.evaluation import evaluate_elbo
from . import fast_step
from .checkpoints import in_progress_path, load_checkpoint, save_checkpoint
from .engine import Graphed, OneModel, Several, Stepper, run_epoch
from .seed_stack import SeedStack, stack_problem, stacking_pays
from .state import (History, TrainConfig, check_trained_with, kept_checkpoint_note, rng_state,
                    set_rng_state)

#: Says which runs resume from which epoch (the training job, vae-train, prints it).
log = logging.getLogger(__name__)


def make_optimizer(model: nn.Module, lr: float, device: torch.device | str) -> torch.optim.Optimizer:
    """Adam; the fused implementation (one kernel for all parameters) where the device has it."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=lr, foreach=True)


def resolve_backend(model: nn.Module, requested: str) -> tuple[str, str | None]:
    """The backend that will train ``model`` (``"fast"`` or ``"autograd"``) and, when ``auto``
    chose autograd, why. ``fast`` for a model the fast step does not know is an error."""
    if requested not in ("auto", "fast", "autograd"):
        raise ValueError(f"backend must be 'auto', 'fast' or 'autograd', got {requested!r}")
    if requested == "autograd":
        return "autograd", None
    reason = fast_step.unsupported_reason(model)
    if reason is None:
        return "fast", None
    if requested == "fast":
        raise ValueError(f"backend 'fast' cannot train this model: {reason}. "
                         f"Use backend 'autograd' (or 'auto', which chooses it)")
    return "autograd", reason


# --------------------------------------------------------------------------------------------
# One epoch
# --------------------------------------------------------------------------------------------

# --------------------------------------------------------------------------------------------
# The whole run
# --------------------------------------------------------------------------------------------

@dataclass
class _Run:
    """One model's training in progress: everything its checkpoint holds, and where it goes."""

    config: TrainConfig
    model: nn.Module
    optimizer: torch.optim.Optimizer
    perm_gen: torch.Generator
    noise_gen: torch.Generator
    history: History
    checkpoint: Path
    backend: str
    meta: dict[str, Any]
    # the global torch RNG as this run left it (after building the model): saved as the
    # checkpoint's, so that seeds built one after another save what each would save alone
    torch_rng: Tensor

    @property
    def epochs_done(self) -> int:
        return len(self.history.epoch)

    @property
    def finished(self) -> bool:
        return self.epochs_done >= self.config.epochs


def _start(config: TrainConfig, checkpoint: str | os.PathLike, device: torch.device,
           meta: Mapping[str, Any] | None, model: nn.Module | None = None) -> _Run:
    """Build (or take) the model with ``config.seed``, its optimizer and generators, and load the
    run's last checkpoint when there is one (refused when written with another config)."""
    checkpoint = Path(checkpoint)
    torch.manual_seed(config.seed)
    if model is None:
        model = vae_core.build_model(config.arch, config.latent_dim, config.init,
                                      config.decoder_sigma, config.encoder_std)
    model = model.to(device)
    backend, reason = resolve_backend(model, config.backend)
    optimizer = make_optimizer(model, config.lr, device)
    # both on the CPU, whatever the device: a seed draws the same batches and noise everywhere
    perm_gen = torch.Generator().manual_seed(config.seed)
    noise_gen = torch.Generator().manual_seed(config.seed + 1)
    history = History()
    resume_from = next((p for p in (in_progress_path(checkpoint), checkpoint) if p.exists()), None)
    if resume_from is not None:
        ckpt = load_checkpoint(resume_from)              # on the CPU; load_state_dict moves it
        check_trained_with(ckpt, resume_from, config)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        set_rng_state(ckpt["rng"], perm_gen, noise_gen, resume_from)
        history = History.from_dict(ckpt["history"])
        done = len(history.epoch)
        log.info("seed %d: %s", config.seed,
                 f"resumes after epoch {done} of {config.epochs} ({resume_from.name})"
                 if done < config.epochs else f"all {config.epochs} epochs done ({resume_from.name})")
    ran = {"requested": config.backend, "used": backend, "auto_reason": reason,
           "fast_ops": fast_step.checked_ops(device).description if backend == "fast" else None}
    meta = {**json.loads(json.dumps(meta or {})), "training_backend": ran}
    return _Run(config, model, optimizer, perm_gen, noise_gen, history, checkpoint, backend, meta,
                torch.get_rng_state())


def _end_epoch(run: _Run, train_elbo: float, seconds: float, val_x: Tensor, backend: str,
               model_state: Mapping[str, Tensor] | None = None,
               optimizer_state: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Validate, extend the history and checkpoint the epoch atomically (to the in-progress
    file); returns the validation numbers."""
    val = evaluate_elbo(run.model, val_x, run.config.eval_batch_size, seed=run.config.eval_seed)
    run.history.append(epoch=run.epochs_done + 1, train_elbo=train_elbo, val_elbo=val["elbo"],
                       val_log_lik=val["log_lik"], val_kl=val["kl"],
                       decoder_std=float(run.model.decoder_std.detach()), seconds=seconds,
                       backend=backend)
    save_checkpoint(in_progress_path(run.checkpoint),
                    model=model_state if model_state is not None else run.model.state_dict(),
                    optimizer=(optimizer_state if optimizer_state is not None
                               else run.optimizer.state_dict()),
                    rng=rng_state(run.perm_gen, run.noise_gen, run.torch_rng), history=run.history.as_dict(),
                    config=dataclasses.asdict(run.config), meta=run.meta)
    return val


def _finish(run: _Run) -> None:
    """Every epoch done: the in-progress checkpoint takes the final name."""
    progress_file = in_progress_path(run.checkpoint)
    if run.finished and progress_file.exists():
        os.replace(progress_file, run.checkpoint)
    run.model.eval()


def _names(group: Sequence[_Run]) -> list[str] | None:
    """What an error calls each model of ``group``: ``None`` for one model, ``"seed 3"`` for
    the seeds of one architecture, ``"deep-512 seed 3"`` across architectures."""
    if len(group) == 1:
        return None
    archs = len({r.config.arch for r in group}) > 1
    return [f"{r.config.arch} " * archs + f"seed {r.config.seed}" for r in group]


def _train(group: Sequence[_Run], stepper: Stepper, x: Tensor, xv: Tensor, until: int,
           bar: Any = None, on_epoch_end: Callable[[int], None] | None = None) -> None:
    """The one run loop: train the models of ``group`` (one, or a seed stack) with ``stepper``
    up to epoch ``until``, validating and checkpointing each model every epoch."""
    config = group[0].config
    names = _names(group)
    while group[0].epochs_done < until:
        epoch = group[0].epochs_done + 1
        t0 = time.perf_counter()
        try:
            elbos = run_epoch(stepper, x, config.batch_size, [r.perm_gen for r in group],
                              [r.noise_gen for r in group], epoch=epoch,
                              check_every=config.check_every, names=names)
        except NonFiniteLossError as exc:
            kept = "; ".join((f"{name}: " if names else "")
                             + kept_checkpoint_note(r.checkpoint, r.history)
                             for name, r in zip(names or [""] * len(group), group))
            raise NonFiniteLossError(f"{exc} {kept}.") from None
        # each model's share of the epoch, so that seconds add up over models as alone
        seconds = (time.perf_counter() - t0) / len(group)
        if isinstance(stepper, Graphed):                  # recorded: was the graph replayed?
            for run in group:
                run.meta["training_backend"]["graph"] = stepper.state
        vals = [_end_epoch(r, elbo, seconds, xv, stepper.model_backend(i), stepper.model_state(i),
                           stepper.optimizer_state(i))
                for i, (r, elbo) in enumerate(zip(group, elbos))]
        if bar is not None:
            bar.update(1)
            bar.set_postfix(val=" ".join(f"{v['elbo']:.1f}" for v in vals),
                            s_per_epoch=f"{seconds * len(group):.1f}")
        if on_epoch_end is not None:
            on_epoch_end(epoch)


def _train_to_end(group: Sequence[_Run], stepper: Stepper, x: Tensor, xv: Tensor,
                  progress: bool, on_epoch_end: Callable[[int], None] | None, desc: str) -> None:
    """:func:`_train` to the last epoch under a progress bar."""
    from tqdm import tqdm   # a text bar: reads the same in papermill's logs and in JupyterLab

    bar = tqdm(total=group[0].config.epochs, initial=group[0].epochs_done, desc=desc,
               unit="epoch", disable=not progress)
    _train(group, stepper, x, xv, group[0].config.epochs, bar, on_epoch_end)
    bar.close()


def _alone(run: _Run) -> Stepper:
    return _on_device(OneModel(run.model, run.optimizer, run.backend))


def _on_device(stepper: Stepper) -> Stepper:
    """On CUDA the step is replayed from a CUDA graph (``engine.Graphed``; :func:`_train`
    records in each run's meta whether it was captured); on a CPU it stays the eager step."""
    if next(stepper.models[0].parameters()).device.type != "cuda":
        return stepper
    return Graphed(stepper)


STACKED = SeedStack.backend   #: the backend a seed trained in a stack records


def train_models(configs: Sequence[TrainConfig], train_x: Tensor, val_x: Tensor,
                 checkpoints: Sequence[str | os.PathLike], device: torch.device | str = "cpu",
                 meta: Sequence[Mapping[str, Any] | None] | None = None,
                 stack: bool | str = "auto", progress: bool = True,
                 on_epoch_end: Callable[[int, list[History]], None] | None = None,
                 together: bool = False,
                 models: Sequence[nn.Module | None] | None = None) -> list[History]:
    """The trainer's one entry: train model ``configs[i]`` into ``checkpoints[i]`` for every i
    — one model, or the seeds of one or more architectures of one run (the same batch size,
    epochs and latent size) — with Adam on the negative ELBO, ``train_x [N, 784]`` shuffled
    each epoch, the validation ELBO on ``val_x [M, 784]`` after each.

    Model i is ``vae_core.build_model(config.arch, …)`` built after seeding torch with
    ``config.seed``, or ``models[i]`` when given (any module with the VAE's interface; ``auto``
    then trains it with autograd unless the fast step knows its structure). The seeds of one
    architecture train as one stacked model (:mod:`seed_stack`) when the fast step trains them
    and ``stack`` is ``True``, or ``"auto"`` and ``seed_stack.stacking_pays`` says so; else one
    after another — with the numbers each gets alone, up to the rounding of batched GEMMs.
    ``together=False``: each architecture's stack (or each model) trains to the end, one after
    another. ``together=True``: all of them are stepped each step as one
    :class:`engine.Several` — a run in one process, replayed from one CUDA graph on a GPU.

    Every epoch of every model is checkpointed atomically to ``checkpoints.in_progress_path``;
    the last is renamed to ``checkpoints[i]`` when all ``config.epochs`` are done. A run killed
    at any point resumes each model from its last finished epoch (a model behind the others
    first catches up alone) and reproduces the uninterrupted run's numbers exactly; a checkpoint
    of another config is refused. A non-finite loss stops everything with an error naming the
    model, epoch and step; every model keeps its last good epoch's checkpoint.
    ``on_epoch_end(epoch, histories)`` is called after each epoch's checkpoints (e.g. to stop in
    tests). Returns the histories in the order of ``configs``.
    """
    device = torch.device(device)
    flush_denormals()
    if stack not in (True, False, "auto"):
        raise ValueError(f"stack must be True, False or 'auto', got {stack!r}")
    if len(set(map(str, checkpoints))) != len(checkpoints) or len(checkpoints) != len(configs):
        raise ValueError("every model needs a checkpoint path of its own")
    # one epoch loop steps them all: the same batches per epoch, epochs and noise size
    mixed = [k for k in ("batch_size", "epochs", "latent_dim", "check_every")
             if len({getattr(c, k) for c in configs}) > 1]
    if mixed:
        raise ValueError(f"models trained in one call must share {', '.join(mixed)}; train "
                         f"them in separate calls")
    runs = [_start(c, ck, device, m, model) for c, ck, m, model in
            zip(configs, checkpoints, meta or [None] * len(configs), models or [None] * len(configs))]
    x, xv = train_x.to(device), val_x.to(device)
    def each_epoch(epoch: int) -> None:
        if on_epoch_end is not None:
            on_epoch_end(epoch, [r.history for r in runs])
    parts = [part for group in _by_arch([r for r in runs if not r.finished])
             for part in _parts(group, stack, x, xv)]
    if together and len(parts) > 1:
        _train_together(parts, x, xv, progress, each_epoch)
    else:
        for group, stepper in parts:
            _train_to_end(group, _on_device(stepper), x, xv, progress, each_epoch,
                          _label(group))
    for run in runs:
        _finish(run)
    return [r.history for r in runs]


def _by_arch(runs: Sequence[_Run]) -> list[list[_Run]]:
    """``runs`` grouped by architecture, in the order each first appears."""
    groups: dict[str, list[_Run]] = {}
    for run in runs:
        groups.setdefault(run.config.arch, []).append(run)
    return list(groups.values())


def _label(group: Sequence[_Run]) -> str:
    seeds = ", ".join(str(r.config.seed) for r in group)
    return f"{group[0].config.arch} seed{'s' if len(group) > 1 else ''} {seeds}"


def _parts(group: list[_Run], stack: bool | str, x: Tensor,
           xv: Tensor) -> list[tuple[list[_Run], Stepper]]:
    """The seeds of one architecture and what steps them: one :class:`SeedStack` (after any
    seed behind the others — a run killed between two seeds' checkpoints — has caught up
    alone) when stacking is asked for or pays, else each seed alone."""
    if stack == "auto":
        stack, why = stacking_pays(group[0].model, x.device)
        for run in group:
            run.meta["training_backend"]["stacking"] = why
    if not stack or len(group) < 2 or any(r.backend != "fast" for r in group):
        return [([run], OneModel(run.model, run.optimizer, run.backend)) for run in group]
    level = max(r.epochs_done for r in group)
    for run in group:
        _train([run], _alone(run), x, xv, level)
    problem = stack_problem([r.model for r in group], [r.optimizer for r in group])
    if problem:
        raise ValueError(f"cannot stack the seeds of {group[0].config.arch}: {problem}")
    for run in group:
        run.meta["training_backend"] = {**run.meta["training_backend"], "used": STACKED,
                                        "stacked_seeds": [r.config.seed for r in group]}
    return [(group, SeedStack([r.model for r in group], [r.optimizer for r in group]))]


def _train_together(parts: list[tuple[list[_Run], Stepper]], x: Tensor, xv: Tensor,
                    progress: bool, each_epoch: Callable[[int], None]) -> None:
    """Every part's models stepped each step as one :class:`engine.Several`, once every part
    has reached the epoch of the one furthest on (each catching up with its own stepper)."""
    level = max(r.epochs_done for group, _ in parts for r in group)
    for group, stepper in parts:
        _train(group, _on_device(stepper), x, xv, level)
    group = [r for g, _ in parts for r in g]
    together = f"{len(group)} models of {len(parts)} architectures stepped together"
    for run in group:
        run.meta["training_backend"]["together"] = together
    _train_to_end(group, _on_device(Several([s for _, s in parts])), x, xv, progress,
                  each_epoch, together)
