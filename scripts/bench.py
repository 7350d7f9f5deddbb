"""Training throughput of the study's loop vs a tutorial-style loop, and the projected study time.

Prints, in one run on this machine, for every architecture at batch 16 and 64:
  * ours, 1 process: the study's loop (vae_report.train.loop with the fast backend: in-memory
    tensors, hand-written backward, fused Adam, no host syncs, subnormals flushed; --backend
    autograd times the reference step instead) in one process with one thread;
  * ours, 2 processes: the layout `make -j2` uses — two such processes side by side (total);
  * the tutorial loop: torchvision dataset + ToTensor + DataLoader(shuffle=True), plain Adam and
    a .item() per step, with torch's default threads (all cores), as a user would run it;
  * the ratio of the study layout to the tutorial loop, and the fraction of the machine's
    single-thread fp32 matmul peak (measured alongside, in the same rounds) one process reaches;
  * stacked: the study's layout since issue 12 — the 3 seeds of a run trained side by side as one
    stacked model (vae_report.train.seed_stack), in one process and in two side by side, in images/s
    per model (3 x the images of an epoch / its seconds), with its % of peak and its ratio to the
    tutorial loop;
then the seven-architecture epoch set per batch size and the projected wall time of the whole
study (7 architectures x 100 epochs x every run and seed of params/runs/, with the per-epoch
validation pass), one seed at a time and stacked, against the FLOP floor.

    make bench              # or: .venv/bin/python scripts/bench.py --images 4800
Timings on a shared machine are noisy (on the 2-core VM this was written on, one process's
throughput moved by ±30 % within a minute): read the ratios, which are measured in one run. Each
row is measured in --repeats interleaved rounds — one epoch of ours, one of the pair, one of the
tutorial loop, one matmul peak — and the fastest of each counts, so that all of a row's figures
see the same spells of the host and one slow spell does not decide a figure.
"""
from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import time
from typing import Any, Callable


import torch

import vae_core as vc
from vae_report import devices, layout
from vae_report.train import engine, seed_stack, loop
from vae_report.metrics import evaluation
from vae_report.data import load_mnist
from vae_report.params import RUNS
from vae_report.param_files import study_parameters
from vae_report.workflow import selection

EPOCH_IMAGES = 48_000
ROOT = str(layout.PROJECT_ROOT / "data")
BACKEND = "fast"                  # the training backend timed as "ours" (--backend)
_X: torch.Tensor | None = None     # the worker processes' training images


def matmul_peak(threads: int, n: int = 1024, reps: int = 20) -> float:
    """Best-of-3 fp32 GFLOP/s of an n×n matmul with ``threads`` threads."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 * reps / best / 1e9


def train_flops_per_image(arch: str) -> float:
    """Matmul FLOPs of a training step per image: 2 x weights forward, 2 x weights for the
    weight gradients, 2 x weights for the input gradients of every layer but the first (nothing
    needs the gradient with respect to the image)."""
    model = vc.build_model(arch)
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Linear)).weight.numel()
    return 6.0 * weights - 2.0 * first


REPEATS = 3   # timing rounds per (architecture, batch); the fastest of each loop counts


def ours_epoch_timer(arch: str, batch: int, x: torch.Tensor,
                     backend: str = "fast") -> Callable[[], float]:
    """The study's loop (``engine.run_epoch`` of one model with ``backend``) over ``x``, warmed up; returns
    a function that trains one more epoch and returns its seconds."""
    torch.manual_seed(0)
    model = vc.build_model(arch)
    opt = loop.make_optimizer(model, 3e-4, torch.device("cpu"))
    pg, ng = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    stepper = engine.OneModel(model, opt, backend)
    return _warmed_up_epoch(lambda data: engine.run_epoch(
        stepper, data, batch, [pg], [ng], check_every=10_000)[0], x, batch)


def _warmed_up_epoch(run: Callable[[torch.Tensor], Any], x: torch.Tensor,
                     batch: int) -> Callable[[], float]:
    """``run`` (one epoch over the images it is given) warmed up on 20 batches; returns a
    function that runs an epoch over ``x`` and returns its seconds."""
    run(x[: 20 * batch])

    def epoch() -> float:
        t = time.perf_counter()
        run(x)
        return time.perf_counter() - t
    return epoch


STACK = 3   # seeds per stacked model (the study's runs train three)


def stacked_epoch_timer(arch: str, batch: int, x: torch.Tensor) -> Callable[[], float]:
    """``STACK`` seeds of ``arch`` trained side by side (``engine.run_epoch`` over a SeedStack) over
    ``x``, warmed up; returns a function that trains one more epoch of all of them, in seconds."""
    from vae_report.train.timing import fresh_models

    stack = seed_stack.SeedStack(*fresh_models(arch, range(STACK), torch.device("cpu")))
    pgs = [torch.Generator().manual_seed(s) for s in range(STACK)]
    ngs = [torch.Generator().manual_seed(100 + s) for s in range(STACK)]
    return _warmed_up_epoch(lambda data: engine.run_epoch(
        stack, data, batch, pgs, ngs, check_every=10_000), x, batch)


def tutorial_epoch_timer(arch: str, batch: int, n: int) -> Callable[[], float]:
    """A pytorch/examples-style loop: Dataset + ToTensor + DataLoader(shuffle), plain Adam, a
    .item() each step, over the first ``n`` training images; warmed up (20 steps). Returns a
    function that runs one epoch and returns its seconds."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    torch.manual_seed(0)
    ds = Subset(datasets.MNIST(ROOT, train=True, transform=transforms.ToTensor()), range(n))
    loader = DataLoader(ds, batch_size=batch, shuffle=True)
    model = vc.build_model(arch)
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)

    def run(max_steps: int | None = None) -> float:
        t, total = time.perf_counter(), 0.0
        for i, (xb, _) in enumerate(loader):
            if i == max_steps:
                break
            loss = vc.elbo_terms(model, xb.view(-1, 784)).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        return time.perf_counter() - t

    run(max_steps=20)
    return run


def eval_seconds(arch: str, x: torch.Tensor) -> float:
    """Seconds of one validation pass over ``x`` (what training adds per epoch)."""
    model = vc.build_model(arch)
    t = time.perf_counter()
    evaluation.evaluate_elbo(model, x, 1000, seed=0)
    return time.perf_counter() - t


def _init_worker(n: int, backend: str) -> None:
    global _X, BACKEND
    torch.set_num_threads(1)
    devices.flush_denormals()
    _X = load_mnist(ROOT, None, 0.2, 0).train[:n]
    BACKEND = backend


_TIMER: dict[tuple[str, int, bool], Callable[[], float]] = {}   # a worker's current loop


def _worker(key: tuple[str, int, bool]) -> tuple[int, float]:
    """One timed epoch of the study's loop (stacked or not) in a pool worker: (pid, seconds)."""
    if key not in _TIMER:
        _TIMER.clear()
        arch, batch, stacked = key
        _TIMER[key] = (stacked_epoch_timer(arch, batch, _X) if stacked
                       else ours_epoch_timer(arch, batch, _X, BACKEND))
    return os.getpid(), _TIMER[key]()


def _pair_seconds(pool: Any, key: tuple[str, int, bool]) -> list[float]:
    """Seconds of one epoch in each of two processes training side by side. A round in which one
    worker happened to take both tasks (one after the other, not side by side) is run again."""
    while True:
        done = pool.map(_worker, [key, key], chunksize=1)
        if len({pid for pid, _ in done}) == 2:
            return [sec for _, sec in done]


def measure(arch: str, batch: int, x: torch.Tensor, pool: Any, repeats: int,
            threads: int) -> dict[str, float]:
    """Best-of-``repeats`` throughputs (images/s; per model for the stacked loop) of the loops and
    the one-thread matmul peak (GFLOP/s), in interleaved rounds so that all see the same spells
    of a noisy host."""
    ours, tutorial = ours_epoch_timer(arch, batch, x, BACKEND), None
    stacked = stacked_epoch_timer(arch, batch, x)
    best = {"one": 0.0, "pair": 0.0, "tutorial": 0.0, "peak": 0.0, "s_one": 0.0, "s_pair": 0.0}
    for _ in range(repeats):
        best["one"] = max(best["one"], len(x) / ours())
        best["pair"] = max(best["pair"], sum(len(x) / sec
                                             for sec in _pair_seconds(pool, (arch, batch, False))))
        best["s_one"] = max(best["s_one"], STACK * len(x) / stacked())
        best["s_pair"] = max(best["s_pair"], sum(STACK * len(x) / sec
                                                 for sec in _pair_seconds(pool, (arch, batch, True))))
        torch.set_num_threads(threads)
        tutorial = tutorial or tutorial_epoch_timer(arch, batch, len(x))
        best["tutorial"] = max(best["tutorial"], len(x) / tutorial())
        best["peak"] = max(best["peak"], matmul_peak(1, reps=10))   # leaves one thread set
    return best


def bench_device(device: torch.device, archs: list[str], batches: list[int]) -> None:
    """On a GPU the CPU table's comparisons (two processes, the tutorial loop on all cores) do
    not apply: time the designs as scripts/gpu_check.py does and project the study's training
    with the seeds of params/runs/."""
    from vae_report.train.timing import environment, timing

    seeds = {len(study_parameters("full", r)["seeds"]) for r in RUNS}
    print(f"device: {environment(device)}")
    timing(device, archs, batches, steps=500, seeds_per_run=max(seeds))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=4800, help="images per timed epoch (projected to 48k)")
    ap.add_argument("--archs", nargs="*", default=list(vc.ARCHS))
    ap.add_argument("--batches", nargs="*", type=int, default=[16, 64])
    ap.add_argument("--repeats", type=int, default=REPEATS,
                    help="timed epochs per loop; the fastest counts, for ours and the tutorial alike")
    ap.add_argument("--backend", choices=["fast", "autograd"], default="fast",
                    help="the training backend timed as 'ours' (default: the study's fast step)")
    ap.add_argument("--device", default="cpu",
                    help="cpu (this table), or cuda[:n]: ms per warm step of one model and of a "
                         "seed stack, no host sync allowed, and the projected study time")
    args = ap.parse_args()
    if args.device != "cpu":
        return bench_device(torch.device(args.device), args.archs, args.batches)
    global BACKEND
    BACKEND = args.backend

    default_threads = torch.get_num_threads()
    data = load_mnist(ROOT, None, 0.2, 0)      # also puts MNIST where the tutorial loop looks
    x, xv = data.train[: args.images], data.val
    peak1, peak_all = matmul_peak(1), matmul_peak(default_threads)
    torch.set_num_threads(1)
    devices.flush_denormals()
    print(f"machine: {os.cpu_count()} cores; torch {torch.__version__}; fp32 matmul peak "
          f"{peak1:.0f} GFLOP/s with 1 thread, {peak_all:.0f} with {default_threads}")
    print(f"timed epochs of {len(x)} images (best of {args.repeats}), projected to {EPOCH_IMAGES}; "
          f"tutorial loop with {default_threads} threads; ours: the {BACKEND} backend\n")
    head = (f"{'arch':<17}{'batch':>6}{'ours 1 proc':>12}{'peak':>6}{'%peak':>7}{'ours 2 procs':>13}"
            f"{'tutorial':>9}{'ratio':>7}{'s/epoch':>8}{'tut. s/ep':>10}"
            f"{'stacked 1 proc':>15}{'%peak':>7}{'stacked 2 procs':>16}{'ratio':>7}{'s/epoch':>8}")
    print(head + "\n" + "-" * len(head) + "   (images/s, per model when stacked; peak: 1-thread "
          "GFLOP/s alongside; s/epoch: one model's 48k-image epoch with its validation, two "
          "processes sharing the machine)")
    study_s = {b: 0.0 for b in args.batches}
    stacked_s = {b: 0.0 for b in args.batches}
    tut_s = {b: 0.0 for b in args.batches}
    per_model: dict[tuple[str, int], dict[str, float]] = {}   # (arch, batch) → s/epoch per design
    ctx = mp.get_context("spawn")
    with ctx.Pool(2, initializer=_init_worker, initargs=(len(x), BACKEND)) as pool:
        for arch in args.archs:
            val_s = eval_seconds(arch, xv)
            for b in args.batches:
                m = measure(arch, b, x, pool, args.repeats, default_threads)
                one, pair, tut = m["one"], m["pair"], m["tutorial"]
                # two cells share the machine: each epoch costs 48k/pair of wall time, and the
                # validation pass slows by the same factor as training does
                epoch = EPOCH_IMAGES / pair + val_s * one / pair
                s_epoch = EPOCH_IMAGES / m["s_pair"] + val_s * m["s_one"] / m["s_pair"]
                tut_epoch = EPOCH_IMAGES / tut + val_s
                study_s[b] += epoch
                stacked_s[b] += s_epoch
                tut_s[b] += tut_epoch
                auto = s_epoch if seed_stack.stacking_pays(vc.build_model(arch), "cpu")[0] else epoch
                per_model[(arch, b)] = {"one": epoch, "stacked": s_epoch, "auto": auto,
                                        "tutorial": tut_epoch}
                flops = train_flops_per_image(arch) / 1e9 / m["peak"]
                print(f"{arch:<17}{b:>6}{one:>12.0f}{m['peak']:>6.0f}{100 * one * flops:>6.0f}%"
                      f"{pair:>13.0f}{tut:>9.0f}{pair / tut:>6.1f}x{epoch:>8.1f}{tut_epoch:>10.1f}"
                      f"{m['s_one']:>15.0f}{100 * m['s_one'] * flops:>6.0f}%{m['s_pair']:>16.0f}"
                      f"{m['s_pair'] / tut:>6.1f}x{s_epoch:>8.1f}", flush=True)
    print()
    for b in args.batches:
        print(f"seven-architecture epoch set at batch {b} (per model): study layout "
              f"{study_s[b]:.0f} s, stacked {stacked_s[b]:.0f} s, tutorial loop {tut_s[b]:.0f} s -> "
              f"{tut_s[b] / study_s[b]:.1f}x the tutorial's throughput, stacked "
              f"{tut_s[b] / stacked_s[b]:.1f}x")
    # the study's models: each run's architectures (the seed-faithful variants train three)
    # once per seed, at the run's batch size (params/runs/<run>.yaml)
    models = [(a, study_parameters("full", r)["batch_size"]) for r in RUNS
              for _ in selection.run_seeds(r, "full") for a in selection.run_archs(r, "full")]
    if {m for m in models} <= set(per_model):
        def projected(design: str) -> float:
            return 100 * sum(per_model[m][design] for m in models)
        floor = (100 * EPOCH_IMAGES * sum(train_flops_per_image(a) for a, _ in models)
                 / 1e9 / peak_all)
        plan = ", ".join(f"{r}: batch {study_parameters('full', r)['batch_size']}, "
                         f"{len(selection.run_archs(r, 'full'))} archs x "
                         f"{len(selection.run_seeds(r, 'full'))} seed(s)" for r in RUNS)
        print(f"projected training of the whole study ({len(models)} models x 100 epochs; "
              f"{plan}; two processes): one seed at a time {projected('one') / 60:.0f} min, "
              f"all stacked {projected('stacked') / 60:.0f} min, stack_seeds: auto "
              f"{projected('auto') / 60:.0f} min; tutorial loop: "
              f"{projected('tutorial') / 60:.0f} min; matmul FLOP floor at the {default_threads}-thread "
              f"peak: {floor / 60:.0f} min")


if __name__ == "__main__":
    main()
