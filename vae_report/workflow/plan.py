"""What ``make report`` is about to do, said before it starts: how many models it will train and
how many notebooks it will run, roughly how long that takes, and the quicker ways to a report.

    python -m vae_report.workflow.plan --profile full [--runs "retrained"] [--archs "vanilla"] [--jobs 2]

The time is projected from the committed study's own measurements (``reports/full``: seconds
per epoch of every model, one CPU thread each, on the 2-core machine that built it), scaled by
the profile's epochs and training images; a GPU or a faster CPU takes less.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

import vae_core

from vae_report import layout
from vae_report.errors import ParameterError
from vae_report.params import RUNS
from vae_report.param_files import study_parameters

#: Seconds a cell's five notebooks take beyond training: ≈ 45 s of kernel start-ups and
#: bookkeeping whatever the data (the quick profile: ≈ 50 s a cell), plus ≈ 95 s of evaluation on
#: all 10k test images, scaled by the evaluation subset (the committed study: 1⅔ h of two jobs for
#: 88 cells).
CELL_OVERHEAD_SECONDS = 45.0
EVAL_SECONDS_FULL = 95.0
#: Training images of the full profile (48k of the 60k: validation 0.2).
FULL_TRAIN_IMAGES = 48000


def _seconds_per_epoch(run: str, arch: str) -> float:
    """One epoch of ``arch`` in ``run`` on all training images, one CPU thread: as measured in
    the committed study, else from the slowest model scaled by its weights."""
    measured = [json.loads(path.read_text())["seconds_per_epoch"] for path in
                (layout.project_path("reports") / "full" / run).glob(f"seed-*/{arch}/01-train.json")]
    if measured:
        return float(sum(measured) / len(measured))
    sizes = [vae_core.IMAGE_PIXELS, *vae_core.ARCHS[arch], 128]
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    return 13.0 * weights / 1_157_777 * 2          # ≈ the deepest model's 13 s at its size


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def plan(profile: str, runs: Sequence[str], archs: Sequence[str], jobs: int = 2) -> str:
    """The lines ``make report`` prints before any work (see the module)."""
    from .selection import run_archs, run_seeds

    train = evaluate = 0
    seconds = 0.0
    for run in runs:
        p = study_parameters(profile, run)
        images = p.get("train_subset") or FULL_TRAIN_IMAGES
        share = min(images, FULL_TRAIN_IMAGES) / FULL_TRAIN_IMAGES
        eval_share = (p.get("eval_subset") or 10000) / 10000
        for arch in [a for a in run_archs(run, profile) if a in archs]:
            for seed in run_seeds(run, profile):
                if not layout.checkpoint_path(profile, run, seed, arch).exists():
                    train += 1
                    seconds += _seconds_per_epoch(run, arch) * share * p.get("epochs", 100)
                # the workflow reruns a cell whose executed notebook is missing
                if not layout.cell_notebook(profile, run, seed, arch, "05-chain").exists():
                    evaluate += 1
                    seconds += CELL_OVERHEAD_SECONDS + EVAL_SECONDS_FULL * eval_share
    wall = seconds / max(1, min(jobs, 2))          # two cores: more jobs do not go faster here
    what = (f"{train} model(s) to train and {evaluate} cell(s) of 5 notebooks to run"
            if train or evaluate else "every model is trained and evaluated: only the report")
    lines = [f"make report PROFILE={profile}: {what} — about {_duration(wall + 60)} on a 2-core "
             f"CPU like the one that built the committed study (JOBS={jobs}; a GPU is faster)."]
    if profile == "full" and train:
        lines += ["  Quicker: `make report PROFILE=quick` runs the whole pipeline on a slice of "
                  "the data (≈ 20–30 min);",
                  "           `make render` re-renders the committed study's report from its "
                  "cells (≈ 1 min, no training)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", required=True)
    ap.add_argument("--runs", default="", help="space-separated; empty: every run")
    ap.add_argument("--archs", default="", help="space-separated; empty: every architecture")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repair", action="store_true",
                    help="set damaged checkpoints aside so that this run rebuilds them")
    args = ap.parse_args(argv)
    from .selection import check_selection, set_aside_damaged

    runs = args.runs.split() or list(RUNS)
    archs = args.archs.split() or list(vae_core.ARCHS)
    try:
        check_selection(args.profile, runs, archs)
        for note in set_aside_damaged(args.profile, runs, archs, dry_run=not args.repair):
            print(f"warning: {note}", file=sys.stderr)
        print(plan(args.profile, runs, archs, args.jobs))
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
