"""Several seeds of one architecture trained side by side as one stacked model.

The S models of a (run, architecture) differ only in their seed: same shapes, same Adam
settings. :class:`SeedStack` stores each parameter of the S models as one tensor ``[S, …]`` and
points every model's parameter, gradient buffer and Adam moments at its slice, so that

* a step runs one batched GEMM per layer for all seeds (``fast_step.elbo_and_gradient`` with
  ``[S, B, …]`` inputs) and one fused-Adam call over the stacked tensors, paying the
  per-operation overhead once instead of S times;
* each model stays an ordinary ``vae_core.VAE`` with its own ``torch.optim.Adam``: evaluation,
  ``state_dict()`` and the checkpoints are exactly those of a model trained alone.

Each seed keeps its own initialisation, batch order, noise stream and Adam state
(``loop.train_models`` draws them from the seed's own generators), so seed s gets the numbers
it would get alone, up to the rounding of a batched GEMM against a single one (on the CPU
build this was written on: bit-identical; tests bound the difference).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from vae_core import VAE

from . import fast_step


#: On a CPU, stacking measured faster only for models whose S = 3 copies — weights, gradients and
#: two Adam moments, 16 bytes a parameter — stay in the caches: vanilla (151k parameters, +37 %
#: images/s at batch 16 with two processes) and deep-128 (226k, +18 %); every larger model ran
#: 7–22 % slower stacked, its three copies streaming from memory on every step (`make bench`,
#: docs/performance.md, 2026-11-29). Above this size ``auto`` trains the seeds one after another.
CPU_STACK_MAX_PARAMETERS = 250_000


def stacking_pays(model: nn.Module, device: torch.device | str) -> tuple[bool, str]:
    """Whether ``stack_seeds: auto`` stacks the seeds of ``model`` on ``device``, and why.

    On CUDA always: a step of these small models is kernel-launch overhead, paid once for S
    models stacked. On a CPU only up to :data:`CPU_STACK_MAX_PARAMETERS` parameters."""
    if torch.device(device).type != "cpu":
        return True, f"on {torch.device(device).type}, one set of kernel launches for all seeds"
    n = sum(p.numel() for p in model.parameters())
    if n <= CPU_STACK_MAX_PARAMETERS:
        return True, f"{n:,} parameters: the stacked copies stay in the CPU's caches"
    return False, (f"{n:,} parameters > {CPU_STACK_MAX_PARAMETERS:,}: stacked copies would stream "
                   f"from memory every step, slower than one seed at a time on a CPU")


def stack_problem(models: Sequence[nn.Module], optimizers: Sequence[torch.optim.Optimizer]) -> str | None:
    """Why ``models`` cannot be trained as one :class:`SeedStack`, or ``None`` when they can:
    each must be one the fast step knows, all of the same shapes, each with a fused
    ``torch.optim.Adam`` over its own parameters, with the same settings and step count."""
    if len(models) != len(optimizers) or not models:
        return "one optimizer per model is needed"
    for model in models:
        reason = fast_step.unsupported_reason(model)
        if reason:
            return reason
    shapes = [[tuple(p.shape) for p in m.parameters()] for m in models]
    if any(s != shapes[0] for s in shapes):
        return "the models differ in their parameters' shapes"
    if len({m.decoder_sigma for m in models}) != 1:
        return "the models parameterise the decoder's sigma differently (decoder_sigma)"
    if len({m.encoder_std for m in models}) != 1:
        return "the models parameterise the encoder's std differently (encoder_std)"
    if len({p.device for m in models for p in m.parameters()}) != 1:
        return "the models are not on one device"
    settings = []
    for model, opt in zip(models, optimizers):
        if type(opt) is not torch.optim.Adam or len(opt.param_groups) != 1:
            return "each model needs its own torch.optim.Adam with one parameter group"
        group = opt.param_groups[0]
        if [id(p) for p in group["params"]] != [id(p) for p in model.parameters()]:
            return "an optimizer does not hold its model's parameters in order"
        if (not group.get("fused") or group["amsgrad"] or group["weight_decay"]
                or group["maximize"] or isinstance(group["lr"], Tensor)):
            return "the stacked step runs a fused Adam without AMSGrad, weight decay or maximize"
        steps = {float(opt.state[p]["step"]) if opt.state.get(p) else 0.0 for p in model.parameters()}
        if len(steps) != 1:
            return "an optimizer's parameters are at different steps"
        settings.append((group["lr"], tuple(group["betas"]), group["eps"], steps.pop()))
    if len(set(settings)) != 1:
        return "the optimizers differ in lr, betas, eps or step count"
    return None


def _adam_state(p: Tensor) -> dict[str, Tensor]:
    """Zero Adam state for ``p``, as a fused ``torch.optim.Adam`` creates it on its first step
    (the step counter a float32 scalar on the parameter's device)."""
    return {"step": torch.zeros((), dtype=torch.float32, device=p.device),
            "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}


class SeedStack:
    """S models of one architecture whose parameters, gradients and Adam moments are slices of
    stacked tensors ``[S, …]``; :meth:`step` trains all of them at once (an ``engine.Stepper``).

    Build it after each model and optimizer is set up (fresh, or loaded from its checkpoint):
    their current values are copied into the stack and the models' tensors become views of it.
    Use :meth:`optimizer_state` to read a seed's Adam state (for its checkpoint).
    """

    #: what a seed trained in a stack records as its backend
    backend = "fast-stacked"

    def __init__(self, models: Sequence[VAE], optimizers: Sequence[torch.optim.Optimizer]):
        problem = stack_problem(models, optimizers)
        if problem:
            raise ValueError(f"these models cannot be trained as one stack: {problem}")
        self.models, self.optimizers = list(models), list(optimizers)
        self.latent_dim = models[0].latent_dim
        per_model = [list(m.parameters()) for m in models]
        group = optimizers[0].param_groups[0]
        self.params: list[nn.Parameter] = []
        states: list[dict[str, Tensor]] = []
        for k in range(len(per_model[0])):
            seeds = [params[k] for params in per_model]
            olds = [opt.state.get(p) or _adam_state(p) for opt, p in zip(optimizers, seeds)]
            stacked = nn.Parameter(torch.stack([p.detach() for p in seeds]))
            stacked.grad = torch.zeros_like(stacked)
            state = {"step": olds[0]["step"].clone(),
                     "exp_avg": torch.stack([s["exp_avg"] for s in olds]),
                     "exp_avg_sq": torch.stack([s["exp_avg_sq"] for s in olds])}
            for s, (opt, p) in enumerate(zip(optimizers, seeds)):
                p.data = stacked.data[s]              # the model now reads and writes the stack
                p.grad = stacked.grad[s]
                opt.state[p] = {"step": state["step"], "exp_avg": state["exp_avg"][s],
                                "exp_avg_sq": state["exp_avg_sq"][s]}
            self.params.append(stacked)
            states.append(state)
        # Adam over the stacked tensors: the same element-wise arithmetic as each seed's own
        # optimizer, in one fused call — directly when fast_step's check of the op passed (the
        # state exists from the start: it is the seeds' own, or zeros as Adam would create it)
        self.adam = torch.optim.Adam(self.params, lr=group["lr"], betas=group["betas"],
                                     eps=group["eps"], fused=True)
        for p, state in zip(self.params, states):
            self.adam.state[p] = state
        self._adam_step = fast_step.fused_adam_stepper(self.adam) or self.adam.step
        self.ops = fast_step.checked_ops(self.params[0].device)
        # model 0's layers with each parameter replaced by its stacked tensor (found by identity)
        stacked_of = {id(p): stacked for p, stacked in zip(per_model[0], self.params)}
        self.encoder, self.decoder = fast_step.model_layers(models[0], lambda p: stacked_of[id(p)])
        self.raw_std = stacked_of[id(models[0].decoder_raw_std)]
        self.decoder_sigma = models[0].decoder_sigma           # stack_problem: the same for all
        self.encoder_std = models[0].encoder_std

    @property
    def size(self) -> int:
        """S, the number of models."""
        return len(self.models)

    @torch.no_grad()
    def step(self, x: Tensor, eps: Tensor) -> Tensor:
        """One training step of every model: ``x [S, B, 784]`` (seed s's batch in row s),
        ``eps [S, B, D]`` (its noise). Returns the per-image ELBO ``[S, B]``."""
        elbo = fast_step.elbo_and_gradient(self.encoder, self.decoder, self.raw_std,
                                           self.raw_std.grad, x, eps, self.ops,
                                           self.decoder_sigma, self.encoder_std)
        self._adam_step()
        return elbo

    def optimizer_state(self, seed_index: int) -> dict:
        """Seed ``seed_index``'s Adam ``state_dict()``, as its own optimizer would save it, with
        tensors copied out of the stack (a view would save the whole stack's storage)."""
        opt = self.optimizers[seed_index]
        for p, stacked in zip(self.models[seed_index].parameters(), self.params):
            opt.state[p]["step"] = self.adam.state[stacked]["step"]
        return _cloned(opt.state_dict())

    def model_state(self, seed_index: int) -> dict[str, Tensor]:
        """Seed ``seed_index``'s model ``state_dict()`` with its tensors copied out of the stack."""
        return _cloned(self.models[seed_index].state_dict())

    def model_backend(self, seed_index: int) -> str:
        return self.backend


def _cloned(value):
    if isinstance(value, Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _cloned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cloned(v) for v in value]
    return value
