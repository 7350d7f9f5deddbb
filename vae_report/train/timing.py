"""Timing the training step on a device: the machine described, fresh models, and ms per step
of every step design (one model or a seed stack, eager or replayed from a CUDA graph) with any
host synchronisation inside the step an error on CUDA. ``scripts/gpu_check.py``,
``scripts/bench.py`` and ``scripts/profile_step.py`` print what these measure."""
from __future__ import annotations

import os
import platform
import time
from typing import Any, Callable

import torch

import vae_core as vc

from . import engine, loop, seed_stack

#: Training steps an epoch per run (48k images at batch 16 and 64) and the seeds a run trains
#: (params/runs/*.yaml; this script reads no YAML — tests/test_bench.py keeps the two in step).
STUDY_STEPS = {16: 3000, 64: 750}
STUDY_SEEDS = 5


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def environment(device: torch.device) -> dict[str, Any]:
    env = {"torch": torch.__version__, "python": platform.python_version(),
           "cpu_cores": os.cpu_count(), "device": str(device), "cuda": torch.version.cuda}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(name=props.name, memory_gib=round(props.total_memory / 2 ** 30, 1),
                   capability=f"{props.major}.{props.minor}")
    return env


def fresh_models(arch: str, seeds: range, device: torch.device) -> tuple[list[vc.VAE], list]:
    """One freshly built ``arch`` per seed (torch seeded with it) and its Adam, on ``device``."""
    models, optimizers = [], []
    for s in seeds:
        torch.manual_seed(s)
        models.append(vc.build_model(arch).to(device))
        optimizers.append(loop.make_optimizer(models[-1], 3e-4, device))
    return models, optimizers


def stepper_for(arch: str, device: torch.device, stacked: bool, graphed: bool) -> engine.Stepper:
    """One model or a seed stack of 3 of ``arch``, eager or graphed."""
    models, optimizers = fresh_models(arch, range(3 if stacked else 1), device)
    stepper: engine.Stepper = (seed_stack.SeedStack(models, optimizers) if stacked
                               else engine.OneModel(models[0], optimizers[0], "fast"))
    return engine.Graphed(stepper) if graphed else stepper


def measure(stepper: engine.Stepper, batch: int, device: torch.device,
             steps: int) -> dict[str, Any]:
    """ms per warm step of ``stepper`` on random batches, or the error a host synchronisation
    inside the step raised; with the graph's state when it is a ``Graphed``."""
    g = torch.Generator().manual_seed(1)
    size = len(stepper.models)
    x = torch.rand(size, batch, vc.IMAGE_PIXELS, generator=g).to(device)
    eps = torch.randn(size, batch, 64, generator=g).to(device)
    try:
        result: dict[str, Any] = {
            "ms_per_step": 1e3 * timed(lambda: stepper.step(x, eps), device, steps),
            "sync_free": True}
    except RuntimeError as exc:                                     # a sync inside the step
        return {"error": str(exc).splitlines()[0], "sync_free": False}
    if isinstance(stepper, engine.Graphed):
        result["graph"] = stepper.state
    return result


def line(head: str, row: dict[str, Any]) -> str:
    return f"  {head}: " + ", ".join(
        f"{d} {r['ms_per_step']:.3f} ms" if "ms_per_step" in r else f"{d} FAILED: {r['error']}"
        for d, r in row.items() if isinstance(r, dict))


def timed(step: Callable[[], Any], device: torch.device, steps: int) -> float:
    """Seconds per call of ``step`` over ``steps`` calls after 10 of warm-up, with any host
    synchronisation inside it an error on CUDA."""
    for _ in range(10):
        step()                                                        # warm-up
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.set_sync_debug_mode("error")                       # a sync inside fails
    try:
        t = time.perf_counter()
        for _ in range(steps):
            step()
        if device.type == "cuda":
            torch.cuda.set_sync_debug_mode("default")
        synchronize(device)
        return (time.perf_counter() - t) / steps
    finally:
        if device.type == "cuda":
            torch.cuda.set_sync_debug_mode("default")


def timing(device: torch.device, archs: list[str], batches: list[int], steps: int,
           seeds_per_run: int) -> dict[str, Any]:
    designs = {"one model": (False, False), "seed stack of 3": (True, False),
               "one model, graphed": (False, True), "seed stack of 3, graphed": (True, True)}
    rows, study = [], {design: 0.0 for design in designs}
    for arch in archs:
        for batch in batches:
            row: dict[str, Any] = {"arch": arch, "batch": batch}
            for design, (stacked, graphed) in designs.items():
                row[design] = measure(stepper_for(arch, device, stacked, graphed), batch, device,
                                       steps)
                if "ms_per_step" in row[design]:
                    # the study: 100 epochs of STUDY_STEPS[batch] steps per seed
                    per_seed = row[design]["ms_per_step"] / 1e3 / (3 if stacked else 1)
                    study[design] += per_seed * 100 * epoch_steps(batch) * seeds_per_run
            rows.append(row)
            print(line(f"{arch:17} batch {batch:3}", row), flush=True)
    return {"rows": rows, "projected_training_minutes": projected(study, ""),
            "steps_timed": steps, "seeds_per_run": seeds_per_run}


def projected(study_seconds: dict[str, float], how: str) -> dict[str, float]:
    """Each design's projected training minutes, printed."""
    minutes = {d: s / 60 for d, s in study_seconds.items()}
    print(f"  projected training of the study{how} (min): " + ", ".join(
        f"{d} {m:.1f}" for d, m in minutes.items()), flush=True)
    return minutes


def epoch_steps(batch: int) -> int:
    return STUDY_STEPS.get(batch, 48_000 // batch)
