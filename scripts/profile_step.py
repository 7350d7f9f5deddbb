"""Where a training step's time goes: one epoch of the engine under ``torch.profiler``, by kind.

    python scripts/profile_step.py [--arch deep-512] [--batch 16] [--steps 400] [--stack 1]
                                   [--device cpu] [--threads 1]

Trains ``--stack`` models of ``--arch`` (1: ``engine.OneModel``, the fast step; more: a
``seed_stack.SeedStack``) through ``engine.run_epoch`` — exactly what ``make report`` runs —
on random images, after one warm-up epoch, and prints:

* the epoch's wall time per step, unprofiled and profiled, and the matmul peak beside it;
* each kind's share of the time — GEMMs (``mm``/``addmm``/``bmm``/``baddbmm``), Adam (the
  fused kernel), element-wise arithmetic, the engine's own gathers and sums, the rest of torch's
  operators, and what no operator accounts for (Python, dispatch between operators);
* every GEMM shape with its calls, time per call and GFLOP/s against the peak.

An operator's own (self) time is counted, so nested operators are not counted twice. Figures
move ±30 % between runs on a shared machine: compare rows of one run. Results go to
docs/performance.md, not to tests.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

import vae_core as vc
from vae_report.train import engine, seed_stack
from vae_report.devices import flush_denormals
from bench import matmul_peak
from vae_report.train.timing import fresh_models

GEMMS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"}
ADAM = {"aten::_fused_adam_", "aten::_fused_adam"}
ENGINE = {"aten::index_select", "aten::sum", "aten::randperm", "aten::normal_", "aten::copy_",
          "aten::stack", "aten::cat", "aten::slice", "aten::contiguous", "aten::clone"}
ELEMENTWISE = ("add", "sub", "mul", "div", "exp", "log", "softplus", "relu", "threshold",
               "sigmoid", "neg", "pow", "sqrt", "rsqrt", "clamp", "where", "fill_", "zero_",
               "square", "addcmul", "lerp", "abs", "maximum", "sign", "expm1", "log1p")


def kind(name: str) -> str:
    """The kind of a profiled operator (by its aten name)."""
    if name in GEMMS:
        return "GEMM"
    if name in ADAM:
        return "Adam (fused)"
    if name in ENGINE:
        return "engine: gather, sum, copies"
    base = name.removeprefix("aten::").rstrip("_")
    if any(base == e.rstrip("_") or base.startswith(e.rstrip("_") + "_") for e in ELEMENTWISE):
        return "element-wise"
    return "other operators"


def build(arch: str, stack: int, device: torch.device) -> engine.Stepper:
    models, optimizers = fresh_models(arch, range(stack), device)
    if stack == 1:
        return engine.OneModel(models[0], optimizers[0], "fast")
    return seed_stack.SeedStack(models, optimizers)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="deep-512", choices=list(vc.ARCHS))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--stack", type=int, default=1, help="models stepped together (1: alone)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    flush_denormals()
    device = torch.device(args.device)
    stepper = build(args.arch, args.stack, device)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.steps * args.batch, vc.IMAGE_PIXELS, generator=g).to(device)
    gens = lambda k: ([torch.Generator().manual_seed(k + s) for s in range(args.stack)],  # noqa: E731
                      [torch.Generator().manual_seed(100 + k + s) for s in range(args.stack)])
    engine.run_epoch(stepper, x, args.batch, *gens(0))            # warm-up: Adam's state, caches
    t = time.perf_counter()
    engine.run_epoch(stepper, x, args.batch, *gens(2))            # the same epoch, not profiled
    plain = time.perf_counter() - t
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities, record_shapes=True, with_flops=True) as prof:
        t = time.perf_counter()
        engine.run_epoch(stepper, x, args.batch, *gens(1))
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t
    by_kind: dict[str, float] = defaultdict(float)
    gemm: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for event in prof.key_averages(group_by_input_shape=True):
        seconds = event.self_cpu_time_total / 1e6
        by_kind[kind(event.key)] += seconds
        if event.key in GEMMS:
            row = gemm[(event.key, str(event.input_shapes))]
            row[0] += event.count
            row[1] += seconds
            row[2] += event.flops
    peak = matmul_peak(args.threads)                              # sets the threads again
    steps = args.steps
    print(f"{args.arch}, batch {args.batch}, {args.stack} model(s), {args.threads} thread(s) on "
          f"{device}: {1e3 * plain / steps:.3f} ms a step, {1e3 * wall / steps:.3f} profiled (the "
          f"profiler's own cost per operator); fp32 matmul peak {peak:.0f} GFLOP/s")
    accounted = sum(by_kind.values())
    by_kind["between operators (Python, dispatch, profiler)"] = max(wall - accounted, 0.0)
    print(f"\n{'kind':50} {'ms/step':>8} {'share':>6}")
    for name, seconds in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        print(f"{name:50} {1e3 * seconds / steps:8.3f} {100 * seconds / wall:5.1f}%")
    flops = sum(r[2] for r in gemm.values())
    print(f"\nGEMMs: {flops / steps / 1e6:.1f} MFLOP a step; at the peak "
          f"{1e3 * flops / steps / (peak * 1e9):.3f} ms a step")
    print(f"{'op':14} {'input shapes':58} {'calls/step':>10} {'µs/call':>8} {'GFLOP/s':>8} {'% peak':>6}")
    for (op, shapes), (calls, seconds, fl) in sorted(gemm.items(), key=lambda kv: -kv[1][1]):
        rate = fl / seconds / 1e9 if seconds else 0.0
        print(f"{op.removeprefix('aten::'):14} {shapes[:58]:58} {calls / steps:10.1f} "
              f"{1e6 * seconds / calls:8.1f} {rate:8.1f} {100 * rate / peak:5.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
