"""Training throughput of the study's loop vs a tutorial-style loop, and the projected study time.

Prints, in one run on this machine: seconds per epoch and images/s for every architecture at batch
16 and 64 (our in-memory loop, one thread), the same for a tutorial loop (torchvision dataset +
ToTensor + DataLoader with shuffling, per-step .item()), their ratio, the measured fp32 matmul peak
and the fraction of it training reaches, the speed-up of two one-thread processes side by side,
and the projected wall time of the whole study (7 architectures x 100 epochs x both runs).

    make bench                          # or: .venv/bin/python scripts/bench.py --images 4800
Timings on a shared machine are noisy: compare the ratios within one run.
"""
from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import vae_core as vc  # noqa: E402

EPOCH_IMAGES = 48_000
VAL_IMAGES = 12_000


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
    """Forward + backward matmul FLOPs per image: 3 x 2 x (weights of all linear layers)."""
    model = vc.build_model(arch)
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    return 6.0 * weights


def ours_images_per_s(arch: str, batch: int, x: torch.Tensor) -> float:
    """The study's loop (vae_core._train_epoch): in-memory tensors, fused Adam, no host syncs."""
    torch.manual_seed(0)
    model = vc.build_model(arch)
    opt = vc.make_optimizer(model, 3e-4, torch.device("cpu"))
    pg, ng = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    vc._train_epoch(model, opt, x[: 20 * batch], batch, pg, ng, 0, 10_000)   # warm-up
    t = time.perf_counter()
    vc._train_epoch(model, opt, x, batch, pg, ng, 0, 10_000)
    return len(x) / (time.perf_counter() - t)


def tutorial_images_per_s(arch: str, batch: int, root: str, n: int) -> float:
    """A pytorch/examples-style loop: Dataset + ToTensor + DataLoader(shuffle), .item() each step."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    torch.manual_seed(0)
    ds = Subset(datasets.MNIST(root, train=True, transform=transforms.ToTensor()), range(n))
    loader = DataLoader(ds, batch_size=batch, shuffle=True)
    model = vc.build_model(arch)
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    total = 0.0
    t = None
    for i, (xb, _) in enumerate(loader):
        if i == 20:
            t = time.perf_counter()   # after the warm-up steps
            seen = 0
        xb = xb.view(-1, 784)
        loss = vc.elbo_terms(model, xb).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
        if t is not None:
            seen += len(xb)
    return seen / (time.perf_counter() - t)


def eval_seconds(arch: str, x: torch.Tensor) -> float:
    """Seconds of one validation pass over ``x`` (what training adds per epoch)."""
    model = vc.build_model(arch)
    t = time.perf_counter()
    vc.evaluate_elbo(model, x, 1000, seed=0)
    return time.perf_counter() - t


def _worker(args) -> float:
    arch, batch, n = args
    torch.set_num_threads(1)
    x = torch.rand(n, 784)
    return ours_images_per_s(arch, batch, x)


def process_layouts(arch: str, batch: int, n: int) -> dict[str, float]:
    """Images/s of: one 1-thread process, one 2-thread process, two 1-thread processes (total)."""
    x = torch.rand(n, 784)
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        pair = sum(pool.map(_worker, [(arch, batch, n)] * 2))
    rates = {"two 1-thread processes": pair}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        rates[f"one {threads}-thread process"] = ours_images_per_s(arch, batch, x)
    torch.set_num_threads(1)
    return rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=4800, help="images per timed epoch (projected to 48k)")
    ap.add_argument("--archs", nargs="*", default=list(vc.ARCHS))
    ap.add_argument("--batches", nargs="*", type=int, default=[16, 64])
    ap.add_argument("--no-tutorial", action="store_true", help="skip the tutorial-loop baseline")
    args = ap.parse_args()

    torch.set_num_threads(1)
    root = str(vc.PROJECT_ROOT / "data")
    data = vc.load_mnist(root, None, 0.2, 0)
    x = data.train[: args.images]
    xv = data.val
    peak1 = matmul_peak(1)
    peak2 = matmul_peak(2)
    torch.set_num_threads(1)
    print(f"machine: {os.cpu_count()} cores; torch {torch.__version__}; fp32 matmul peak "
          f"{peak1:.0f} GFLOP/s (1 thread), {peak2:.0f} GFLOP/s (2 threads)")
    print(f"timed epochs of {len(x)} images, projected to {EPOCH_IMAGES}; one thread per process\n")
    head = (f"{'arch':<18}{'batch':>6}{'ours img/s':>12}{'s/epoch':>9}{'%peak':>7}"
            f"{'tutorial img/s':>16}{'s/epoch':>9}{'ratio':>7}{'val s':>7}")
    print(head)
    print("-" * len(head))
    epoch_s: dict[int, float] = {b: 0.0 for b in args.batches}
    tut_s: dict[int, float] = {b: 0.0 for b in args.batches}
    for arch in args.archs:
        val_s = eval_seconds(arch, xv)
        for b in args.batches:
            ips = ours_images_per_s(arch, b, x)
            frac = ips * train_flops_per_image(arch) / 1e9 / peak1
            tut = math.nan if args.no_tutorial else tutorial_images_per_s(arch, b, root, len(x))
            s, ts = EPOCH_IMAGES / ips, EPOCH_IMAGES / tut
            epoch_s[b] += s + val_s
            tut_s[b] += ts + val_s
            print(f"{arch:<18}{b:>6}{ips:>12.0f}{s:>9.1f}{100 * frac:>6.0f}%"
                  f"{tut:>16.0f}{ts:>9.1f}{ips / tut:>6.1f}x{val_s:>7.1f}", flush=True)
    print()
    for b in args.batches:
        print(f"all {len(args.archs)} architectures, one epoch at batch {b} (+ validation): ours "
              f"{epoch_s[b]:.0f} s, tutorial {tut_s[b]:.0f} s -> {tut_s[b] / epoch_s[b]:.1f}x")
    rates = process_layouts("deep-512-256-128", 16, min(len(x), 3200))
    print("\ndeep-512-256-128 at batch 16: " + ", ".join(f"{k} {v:.0f} img/s" for k, v in rates.items()))
    pair, one = rates["two 1-thread processes"], rates["one 1-thread process"]
    print(f"two 1-thread processes carry {pair / rates['one 2-thread process']:.2f}x the throughput "
          f"of one 2-thread process")
    if set(args.batches) >= {16, 64} and len(args.archs) == len(vc.ARCHS):
        serial = 100 * (epoch_s[16] + epoch_s[64])
        # side by side, each process runs at pair/2 instead of `one` images/s
        two_procs = serial / 2 * one / (pair / 2)
        print(f"projected study (7 archs x 100 epochs, batch 16 run + batch 64 run): "
              f"{serial / 60:.0f} min in one 1-thread process; {two_procs / 60:.0f} min as two "
              f"1-thread processes side by side (make -j2), from the measured pair throughput")

if __name__ == "__main__":
    main()
