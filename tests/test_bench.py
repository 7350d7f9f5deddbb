"""`make bench` runs and prints a consistent table (a smoke run: figures are not judged here)."""
import os
import re
import subprocess
import sys

import pytest
import torch

import vae_core as vc
from conftest import ROOT

# runs the project's scripts as subprocesses: `make test-fast` leaves it out
pytestmark = pytest.mark.slow


def test_bench_prints_a_consistent_table(mnist_source):
    env = {**os.environ, "MNIST_SOURCE": str(mnist_source)}
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--images", "320", "--archs",
         "vanilla", "--batches", "16", "--repeats", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert re.search(r"fp32 matmul peak \d+ GFLOP/s with 1 thread", text)
    number = r"\s+([\d.]+)"
    row = re.search(r"^vanilla\s+16" + number * 3 + "%" + number * 3 + "x" + number * 2
                    + number * 2 + "%" + number * 2 + "x" + number, text, re.M)
    assert row, text
    one, peak, frac, pair, tut, ratio, _, _, s_one, s_frac, s_pair, s_ratio, _ = (
        float(v) for v in row.groups())
    assert min(one, peak, pair, tut, s_one, s_pair) > 0
    assert abs(ratio - pair / tut) <= 0.05 + 0.01 * ratio        # printed with one decimal
    assert abs(s_ratio - s_pair / tut) <= 0.05 + 0.01 * s_ratio
    # % of peak = matmul FLOPs per image / the peak: 2 x weights forward, 2 x for the weight
    # gradients, 2 x for the input gradients of all layers but the first (vanilla's encoder head,
    # 784 -> 2 x 64: mean and std)
    weights = sum(m.weight.numel() for m in vc.build_model("vanilla").modules()
                  if isinstance(m, torch.nn.Linear))
    flops = 6 * weights - 2 * (784 * 128)
    assert abs(frac - 100 * one * flops / 1e9 / peak) <= 1.0
    assert abs(s_frac - 100 * s_one * flops / 1e9 / peak) <= 1.0
    assert "seven-architecture epoch set at batch 16 (per model)" in text


def test_the_gpu_check_runs_on_the_cpu_at_tiny_sizes(tmp_path):
    """scripts/gpu_check.py is prepared for the first CUDA machine; on the CPU at tiny sizes it
    must pass every check and write its figures, so it cannot rot before one is lent."""
    import json

    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), str(tmp_path),
                          "--tiny", "--device", "cpu"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["failed"] == [] and report["environment"]["device"] == "cpu"
    assert {r["arch"] for r in report["device_vs_cpu"]} == {"vanilla", "deep-512-256-128"}
    assert all(r["ok"] for r in report["device_vs_cpu"] + report["stacked_vs_single"]
               + report["graphed_vs_eager"])
    assert {r["graph"] for r in report["graphed_vs_eager"]} == {"on cpu: eager"}
    assert report["resume"]["ok"] is True
    projected = report["timing"]["projected_training_minutes"]
    assert set(projected) == {"one model", "seed stack of 3", "one model, graphed",
                              "seed stack of 3, graphed"} and min(projected.values()) > 0
    run = report["whole_run"]
    assert [r["models"] for r in run["rows"]] == [4, 4]              # 2 archs x 2 seeds (tiny)
    assert all(r["graphed"]["graph"] == "on cpu: eager" for r in run["rows"])
    assert min(run["projected_training_minutes"].values()) > 0
    assert [r["arch"] for r in report["evaluation"]] == ["vanilla", "deep-512-256-128"]
    assert all(r["iwae_seconds"] > 0 for r in report["evaluation"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu_check.json"]


def test_the_gpu_check_knows_the_study_it_projects():
    """gpu_check.py reads no YAML (the device machine has torch only): its copy of the study's
    seeds and steps per epoch must match params/ and the data split."""
    from vae_report.train import timing
    from vae_report.params import MAIN_RUNS
    from vae_report.param_files import study_parameters

    for run in MAIN_RUNS:
        p = study_parameters("full", run)
        assert len(p["seeds"]) == timing.STUDY_SEEDS, run
        train_images = round(60_000 * (1 - p["val_split"]))
        assert timing.STUDY_STEPS[p["batch_size"]] == -(-train_images // p["batch_size"]), run


def test_the_step_profile_accounts_for_the_epoch():
    """scripts/profile_step.py (a smoke run): the kinds' shares add up to the profiled epoch, and
    every GEMM of vanilla's step is listed (its two layers, forward and backward)."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "profile_step.py"), "--arch",
                          "vanilla", "--steps", "20"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    shares = [float(m) for m in re.findall(r"^[A-Za-z].{49} +[\d.]+ +([\d.]+)%$", out.stdout, re.M)]
    assert len(shares) == 6 and abs(sum(shares) - 100) < 0.5, out.stdout
    gemm_rows = re.findall(r"^(?:mm|addmm) ", out.stdout, re.M)
    assert len(gemm_rows) >= 4, out.stdout
