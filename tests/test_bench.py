"""`make bench` runs and prints a consistent table (a smoke run: figures are not judged here)."""
import os
import re
import subprocess
import sys

import torch

import vae_core as vc
from conftest import ROOT


def test_bench_prints_a_consistent_table(mnist_source):
    env = {**os.environ, "MNIST_SOURCE": str(mnist_source)}
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--images", "320", "--archs",
         "vanilla", "--batches", "16", "--repeats", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert re.search(r"fp32 matmul peak \d+ GFLOP/s with 1 thread", text)
    row = re.search(r"^vanilla\s+16\s+(\d+)\s+(\d+)\s+(\d+)%\s+(\d+)\s+(\d+)\s+([\d.]+)x", text, re.M)
    assert row, text
    one, peak, frac, pair, tut, ratio = (float(v) for v in row.groups())
    assert min(one, peak, pair, tut) > 0
    assert abs(ratio - pair / tut) <= 0.05 + 0.01 * ratio        # printed with one decimal
    # % of peak = forward + backward matmul FLOPs (3 x 2 x weights per image) / the peak
    weights = sum(m.weight.numel() for m in vc.build_model("vanilla").modules()
                  if isinstance(m, torch.nn.Linear))
    assert abs(frac - 100 * one * 6 * weights / 1e9 / peak) <= 1.0
    assert "seven-architecture epoch set at batch 16" in text
