"""The one training loop: an epoch of S ≥ 1 models over a step interface.

A :class:`Stepper` trains S models one step at a time from their batches ``x [S, B, 784]`` and
noise ``eps [S, B, D]`` and returns their per-image ELBOs ``[S, B]``. Two implement it:

* :class:`OneModel` — one model (S = 1), stepped by the hand-written gradient and the direct
  fused-Adam call (``fast``) or by autograd on ``vae_core.elbo_terms`` (``autograd``);
* ``seed_stack.SeedStack`` — S seeds of one architecture as one stacked model (``fast-stacked``);

and two wrap them: :class:`Several` (steppers of different architectures — a whole run — as
one) and :class:`Graphed` (the step captured once as a CUDA graph and replayed).

:func:`run_epoch` is the epoch for all of them: each model's batch order and noise are drawn in one
call from its own CPU generators (``epoch_draws``), the ELBOs of every step are summed
on the device, and NaN/∞ is looked for every ``check_every`` steps (the only host
synchronisations of an epoch; the step itself makes none: tests/test_fast_step.py).
``loop`` runs the epochs, validates and checkpoints.
"""
from __future__ import annotations

import math
from typing import Any, Protocol, Sequence

import torch
from torch import Tensor, nn

import vae_core

from vae_report.errors import NonFiniteLossError
from . import fast_step


def epoch_draws(perm_gen: torch.Generator, noise_gen: torch.Generator, n: int, latent_dim: int,
                dtype: torch.dtype, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """One epoch's randomness of one model, drawn on the CPU and moved to ``device``: the batch
    order ``perm [N]`` and the reparameterisation noise ``eps [N, D]``, row i the noise of the
    i-th image of the epoch (step k uses rows k·B … k·B + B − 1).

    Both generators are CPU generators, so a seed gives the same draws on any device, and a
    checkpoint's generator states resume anywhere. One ``randn`` call per epoch gives exactly
    the numbers of one call per step (CPU ``randn`` fills uniforms in order and transforms them
    in blocks of 16; every step's B·D is a multiple of 16 for D = 64): checked by a test.
    """
    perm = torch.randperm(n, generator=perm_gen)
    eps = torch.randn((n, latent_dim), generator=noise_gen, dtype=dtype)
    return perm.to(device), eps.to(device)


class Stepper(Protocol):
    """S models trained together, step by step."""

    models: list[nn.Module]

    def step(self, x: Tensor, eps: Tensor) -> Tensor:
        """One step of every model: ``x [S, B, 784]``, ``eps [S, B, D]`` → ELBO ``[S, B]``."""
        ...

    def model_state(self, index: int) -> dict[str, Tensor]:
        """Model ``index``'s ``state_dict()`` for its checkpoint."""
        ...

    def optimizer_state(self, index: int) -> dict[str, Any]:
        """Model ``index``'s Adam ``state_dict()`` for its checkpoint."""
        ...

    def model_backend(self, index: int) -> str:
        """What model ``index``'s history records as the backend of an epoch of this stepper."""
        ...


def _autograd_step(model: nn.Module, optimizer: torch.optim.Optimizer, xb: Tensor,
                   eps: Tensor) -> Tensor:
    """The reference step: autograd through ``vae_core.elbo_terms``; returns the ELBO ``[B]``."""
    terms = vae_core.elbo_terms(model, xb, eps=eps)   # type: ignore[arg-type]
    optimizer.zero_grad(set_to_none=True)
    terms.loss.backward()
    optimizer.step()
    return terms.elbo.detach()


class OneModel:
    """One model and its optimizer as a :class:`Stepper` of S = 1: ``backend`` ``"fast"`` (the
    hand-written gradient, then the direct fused-Adam call where fast_step's check of it passed)
    or ``"autograd"`` (the reference)."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, backend: str) -> None:
        if backend not in ("fast", "autograd"):
            raise ValueError(f"backend must be 'fast' or 'autograd', got {backend!r}")
        self.models = [model]
        self.model, self.optimizer, self.backend = model, optimizer, backend
        if backend == "fast":
            self.ops = fast_step.checked_ops(next(model.parameters()).device)
            fast_step.allocate_grads(model)
            # None until Adam's first step has created its state: optimizer.step() until then
            self._adam = fast_step.fused_adam_stepper(optimizer)

    def step(self, x: Tensor, eps: Tensor) -> Tensor:
        if self.backend == "autograd":
            return _autograd_step(self.model, self.optimizer, x[0], eps[0])[None]
        elbo = fast_step.elbo_step(self.model, x[0], ops=self.ops, eps=eps[0])  # writes the grads
        if self._adam is None:
            self.optimizer.step()
            self._adam = fast_step.fused_adam_stepper(self.optimizer) or self.optimizer.step
        else:
            self._adam()
        return elbo[None]

    def model_state(self, index: int) -> dict[str, Tensor]:
        return self.model.state_dict()

    def optimizer_state(self, index: int) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def model_backend(self, index: int) -> str:
        return self.backend


class Several:
    """Steppers of different architectures — one run's seed stacks, or single models — as one
    :class:`Stepper`: a run's models in one process, every one of them stepped each step.

    The S models are the inner steppers' models in order; row s of ``x [S, B, 784]`` and
    ``eps [S, B, D]`` goes to the stepper that holds model s, and each inner stepper steps its
    rows as it would alone (the same arithmetic on the same numbers, so each model's training is
    bit-identical to its stepper's own: tests/test_engine.py). The inner steps run one after
    another; wrapped in :class:`Graphed` on CUDA they are captured into one graph, so a step of
    the whole run is one launch. All models share the batch size and the latent size."""

    def __init__(self, steppers: Sequence[Stepper]) -> None:
        if not steppers:
            raise ValueError("Several needs at least one stepper")
        self.steppers = list(steppers)
        self.models = [m for inner in self.steppers for m in inner.models]
        dims = {m.latent_dim for m in self.models}
        if len(dims) != 1:
            raise ValueError(f"models stepped together draw one noise tensor, so they need one "
                             f"latent size; got {sorted(dims)}")
        ends = [0]
        for inner in self.steppers:
            ends.append(ends[-1] + len(inner.models))
        self.rows = list(zip(ends, ends[1:]))        # inner stepper k holds models [a, b)
        #: model s → (its stepper, its index there)
        self.where = [(k, s - a) for k, (a, b) in enumerate(self.rows) for s in range(a, b)]

    def step(self, x: Tensor, eps: Tensor) -> Tensor:
        return torch.cat([inner.step(x[a:b], eps[a:b])
                          for inner, (a, b) in zip(self.steppers, self.rows)])

    def model_state(self, index: int) -> dict[str, Tensor]:
        k, i = self.where[index]
        return self.steppers[k].model_state(i)

    def optimizer_state(self, index: int) -> dict[str, Any]:
        k, i = self.where[index]
        return self.steppers[k].optimizer_state(i)

    def model_backend(self, index: int) -> str:
        k, i = self.where[index]
        return self.steppers[k].model_backend(i)


def stacked_batches(x: Tensor, perms: Tensor, step: int, batch_size: int) -> Tensor:
    """Batch ``step`` of every model: ``x [N, 784]`` gathered by ``perms [S, N]`` (each model's
    permutation of this epoch) → ``[S, b, 784]``, row s the batch model s would see alone."""
    idx = perms[:, step * batch_size:(step + 1) * batch_size]
    # index_select, not x[idx]: the same rows, 3-5x faster than advanced indexing
    return torch.index_select(x, 0, idx.reshape(-1)).view(idx.shape[0], idx.shape[1], x.shape[1])


def raise_if_not_finite(elbo_sums: Tensor, epoch: int, batch_size: int,
                        names: Sequence[str] | None = None) -> None:
    """Raise :class:`NonFiniteLossError` if a per-step ELBO sum is NaN or infinite.

    ``elbo_sums [S, steps so far]`` of S models called ``names`` (e.g. ``"seed 3"``; ``None``:
    one model). The message names the model whose loss broke first, the epoch and the step
    (both from 1)."""
    bad = ~torch.isfinite(elbo_sums)
    if not bool(bad.any()):
        return
    first = [int(row.nonzero()[0]) if bool(row.any()) else math.inf for row in bad]
    s = min(range(len(first)), key=first.__getitem__)
    who = "training loss" if names is None else f"training loss of {names[s]}"
    raise NonFiniteLossError(
        f"{who} became non-finite at epoch {epoch}, step {first[s] + 1} (both counted from 1; "
        f"batch size {batch_size}). Try a lower lr or a larger batch size.")


def run_epoch(stepper: Stepper, x: Tensor, batch_size: int,
              perm_gens: Sequence[torch.Generator], noise_gens: Sequence[torch.Generator],
              *, epoch: int = 1, check_every: int = 500,
              names: Sequence[str] | None = None) -> list[float]:
    """One pass of every model of ``stepper`` over ``x [N, 784]``; returns each model's mean
    training ELBO. Model s's batch order and noise come from ``perm_gens[s]``/``noise_gens[s]``;
    ``names`` name the models in a :class:`NonFiniteLossError` (``epoch`` counted from 1)."""
    for model in stepper.models:
        model.train()
    n, device = len(x), x.device
    latent_dim = stepper.models[0].latent_dim
    draws = [epoch_draws(p, g, n, latent_dim, x.dtype, device) for p, g in zip(perm_gens, noise_gens)]
    perms = torch.stack([perm for perm, _ in draws])                     # [S, N]
    noise = torch.stack([eps for _, eps in draws])                       # [S, N, D]
    n_steps = math.ceil(n / batch_size)
    elbo_sums = torch.zeros(len(draws), n_steps, device=device, dtype=x.dtype)
    for step in range(n_steps):
        xb = stacked_batches(x, perms, step, batch_size)
        elbo = stepper.step(xb, noise[:, step * batch_size:(step + 1) * batch_size].contiguous())
        torch.sum(elbo, -1, out=elbo_sums[:, step])
        if (step + 1) % check_every == 0 or step == n_steps - 1:
            raise_if_not_finite(elbo_sums[:, : step + 1], epoch, batch_size, names)
    return [float(row.sum()) / n for row in elbo_sums]


class Graphed:
    """A :class:`Stepper` whose step is captured once as a CUDA graph and replayed.

    At batch 16–64 a step of these models is 56–96 small kernels whose launch overhead, not their
    arithmetic, sets the speed on a GPU; a graph launches them all at once. The first
    ``warmup`` steps run eagerly (they create Adam's state and let the allocator settle: real
    training steps, as every step here); the next is captured into the graph — reading its
    inputs from static buffers — and every later step of the same shape is a replay: the same
    kernels on the same memory, so the same numbers as the eager step. A batch of another shape
    (an epoch's last, smaller one) runs eagerly. On a CPU, or when capture fails (the reason is
    recorded in ``fallback``), every step is the eager one. Not yet run on a CUDA machine:
    ``scripts/gpu_check.py`` compares it with the eager step there.
    """

    def __init__(self, stepper: Stepper, warmup: int = 3) -> None:
        self.inner, self.models = stepper, stepper.models
        self.warmup = warmup
        self.steps = 0
        device = next(stepper.models[0].parameters()).device
        self.fallback: str | None = None if device.type == "cuda" else f"on {device.type}: eager"
        self.graph: Any = None
        self.static: tuple[Tensor, Tensor, Tensor] | None = None   # x, eps, ELBO buffers

    @property
    def state(self) -> str:
        """What ran: ``"replayed from a CUDA graph"``, or why it is the eager step."""
        if self.fallback is not None:
            return self.fallback
        return "replayed from a CUDA graph" if self.graph is not None else "warming up: eager"

    def step(self, x: Tensor, eps: Tensor) -> Tensor:
        if self.fallback is not None or (self.static is not None
                                         and self.static[0].shape != x.shape):
            return self.inner.step(x, eps)
        self.steps += 1
        if self.steps <= self.warmup:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                elbo = self.inner.step(x, eps)
            torch.cuda.current_stream().wait_stream(side)
            return elbo
        if self.graph is None:
            try:
                return self._capture_and_replay(x, eps)
            except RuntimeError as exc:               # an op that cannot be captured
                self.fallback = f"capture failed ({str(exc).splitlines()[0]}): eager"
                # the failed capture ran nothing: this step is still to be taken
                return self.inner.step(x, eps)
        sx, seps, selbo = self.static                  # type: ignore[misc]
        sx.copy_(x)
        seps.copy_(eps)
        self.graph.replay()
        return selbo

    def _capture_and_replay(self, x: Tensor, eps: Tensor) -> Tensor:
        sx, seps = x.clone(), eps.clone()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            selbo = self.inner.step(sx, seps)          # recorded, not run
        self.graph, self.static = graph, (sx, seps, selbo)
        graph.replay()                                 # this step's update
        return selbo

    def model_state(self, index: int) -> dict[str, Tensor]:
        return self.inner.model_state(index)

    def optimizer_state(self, index: int) -> dict[str, Any]:
        return self.inner.optimizer_state(index)

    def model_backend(self, index: int) -> str:
        return self.inner.model_backend(index)
