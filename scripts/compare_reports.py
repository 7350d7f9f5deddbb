"""Compare the numbers of two rendered profiles: a refactor must change none of them.

    .venv/bin/python scripts/compare_reports.py reports/quick /path/to/other/reports/quick

Walks every cell folder (``<run>/seed-<n>/<arch>/``) and the classifier folder of both trees and
compares, value by value: every step's JSON metrics (leaving out ``provenance`` and timings),
``history.csv`` (all columns but ``seconds``, and only the columns both have) and the ``.npy``
image arrays. Prints each difference (the largest absolute one per file) and exits 1 if any
value differs by more than ``--tolerance`` (default 0: bit-identical), 0 otherwise.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Iterator

#: Keys whose values are wall-clock times or bookkeeping, not results.
SKIPPED_KEYS = {"provenance", "seconds", "seconds_per_epoch", "train_seconds", "cached"}
#: Keys left out on request (--ignore): a change that was meant, stated in its commit.
IGNORED: set[str] = set()


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) for every number, string or bool inside nested dicts and lists."""
    if isinstance(value, dict):
        for key in sorted(value):
            if key not in SKIPPED_KEYS and key not in IGNORED:
                yield from _leaves(value[key], f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def _differ(a: Any, b: Any, tolerance: float) -> float | None:
    """None when equal (within tolerance for numbers), else the size of the difference (inf for
    a change of type or text)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if (isinstance(a, float) and math.isnan(a)) and (isinstance(b, float) and math.isnan(b)):
            return None
        d = abs(a - b)
        return None if d <= tolerance else d
    return None if a == b else math.inf


def compare_json(a: Path, b: Path, tolerance: float) -> list[str]:
    left = dict(_leaves(json.loads(a.read_text())))
    right = dict(_leaves(json.loads(b.read_text())))
    problems = [f"{a.name}: key {k} only in {'first' if k in left else 'second'}"
                for k in sorted(set(left) ^ set(right))]
    diffs = {k: d for k in set(left) & set(right) if (d := _differ(left[k], right[k], tolerance)) is not None}
    if diffs:
        worst = max(diffs, key=lambda k: diffs[k])
        problems.append(f"{a.name}: {len(diffs)} value(s) differ, largest at {worst}: "
                        f"{left[worst]!r} vs {right[worst]!r}")
    return problems


def compare_history(a: Path, b: Path, tolerance: float) -> list[str]:
    import pandas as pd

    left, right = pd.read_csv(a), pd.read_csv(b)
    common = [c for c in left.columns if c in right.columns and c not in SKIPPED_KEYS | IGNORED]
    if len(left) != len(right):
        return [f"{a.name}: {len(left)} vs {len(right)} epochs"]
    problems = []
    for col in common:
        if left[col].dtype.kind in "fi" and right[col].dtype.kind in "fi":
            d = float((left[col] - right[col]).abs().max())
            if d > tolerance:
                problems.append(f"{a.name}: column {col} differs by up to {d:g}")
        elif not left[col].equals(right[col]):
            problems.append(f"{a.name}: column {col} differs")
    return problems


def compare_npy(a: Path, b: Path, tolerance: float) -> list[str]:
    import numpy as np

    left, right = np.load(a), np.load(b)
    if left.shape != right.shape:
        return [f"{a.name}: shape {left.shape} vs {right.shape}"]
    d = float(np.abs(left.astype(float) - right.astype(float)).max()) if left.size else 0.0
    return [f"{a.name}: differs by up to {d:g}"] if d > tolerance else []


COMPARERS = {".json": compare_json, ".csv": compare_history, ".npy": compare_npy}


def compare_trees(first: Path, second: Path, tolerance: float = 0.0) -> tuple[int, list[str]]:
    """(files compared, problems) for every comparable file under ``first``'s cell and
    classifier folders."""
    problems, count = [], 0
    for path in sorted(first.rglob("*")):
        rel = path.relative_to(first)
        if path.suffix not in COMPARERS or rel.parts[0] == "figures" or path.name.startswith("."):
            continue
        other = second / rel
        if not other.exists():
            problems.append(f"{rel}: missing in {second}")
            continue
        count += 1
        problems += [f"{rel.parent}/{p}" for p in COMPARERS[path.suffix](path, other, tolerance)]
    return count, problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("first", type=Path)
    ap.add_argument("second", type=Path)
    ap.add_argument("--tolerance", type=float, default=0.0,
                    help="largest absolute difference that counts as equal (default 0)")
    ap.add_argument("--ignore", nargs="*", default=[], metavar="KEY",
                    help="JSON keys / history columns to leave out (a change that was meant)")
    args = ap.parse_args()
    IGNORED.update(args.ignore)
    count, problems = compare_trees(args.first, args.second, args.tolerance)
    for p in problems:
        print(p)
    print(f"{count} files compared, {len(problems)} difference(s)")
    return 1 if problems or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
