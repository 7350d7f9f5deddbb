"""The evidence the seed's claims are judged on: the metrics table's columns (the contract
with ``gather.metrics_table``), the thresholds this study chose, and reading the table by run,
seed and architecture.

The table is indexed by (run, seed, arch) with exactly the columns of :data:`METRIC_COLUMNS`: a
missing or renamed column raises, it does not turn into "not measured".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import vae_core

from vae_report.params import MAIN_RUNS, RUNS

RUN_A, RUN_B = MAIN_RUNS
VARIANT_A, VARIANT_B = (next(r for r, run in RUNS.items() if run.variant_of == main)
                        for main in MAIN_RUNS)
DEEPEST = "deep-512-256-128"
ONE_HIDDEN_LAYER = ["deep-128", "deep-256", "deep-512"]
#: The KL (nats) below which a latent dimension counts as collapsed. The seed names no threshold;
#: 0.01 is this study's, with a factor 2 either side as a sensitivity check (shown in the
#: evidence, not judged).
KL_THRESHOLD = 0.01
KL_THRESHOLDS: tuple[float, ...] = (0.005, 0.01, 0.02)
#: float32 exp(x) is 0 below x ≈ −103.3 and leaves the normal range below −87.3; it overflows above
#: 88.7: where a std = exp(log std) "collapsed to zero or infinity" (the seed's words).
EXP_BREAKS_AT = 87.3
THEIS = "likelihood and sample quality can disagree (Theis, van den Oord & Bethge, ICLR 2016)"
#: The likelihood conventions an ELBO-ranking claim is also judged under: column → label.
CONVENTIONS: dict[str, str] = {"test_iwae": "IWAE bound", "test_discrete_log_lik": "8-bit"}

#: The columns of the metrics table, one home for the code and its tests (gather.metrics_table).
METRIC_COLUMNS: tuple[str, ...] = (
    "test_elbo", "test_iwae", "test_discrete_log_lik", "recon_sq_error", "recon_sharpness",
    *(f"collapsed_kl_{t:g}" for t in KL_THRESHOLDS), "min_dim_kl", "active_units",
    "final_gap_nats", "val_gain_after_tenth", "val_gain_last_tenth", "val_rate_before_fifth",
    "val_rate_after_fifth", "val_drops_first_fifth", "decoder_std",
    "chain_finite", "final_saturated", "frechet_distance", "chain_confidence", "class_switches",
    "morphing_chains", "fading_chains", "seed_chain_broke", "seed_chain_log_std")



class NotInSelection(LookupError):
    """A claim names a run or an architecture the study (a selection) did not render."""


@dataclass(frozen=True)
class TwoRuns:
    """The margins of a claim that compares run A's seeds with run B's (not paired by index):
    Welch's test of mean(a) − mean(b)."""

    a: Any
    b: Any


# --------------------------------------------------------------------------------------------
# Reading the table
# --------------------------------------------------------------------------------------------

def check_columns(table: Any) -> None:
    """A ValueError naming the columns the table lacks or adds, against :data:`METRIC_COLUMNS`."""
    missing = [c for c in METRIC_COLUMNS if c not in table.columns]
    extra = [c for c in table.columns if c not in METRIC_COLUMNS]
    if missing or extra:
        raise ValueError(f"the metrics table does not match evidence.METRIC_COLUMNS: missing "
                         f"{missing}, unexpected {extra}; gather.metrics_table and the claims "
                         f"must change together")


def runs_of(table: Any) -> list[str]:
    return list(dict.fromkeys(table.index.get_level_values("run")))


def main_runs(table: Any) -> list[str]:
    """The seed's two runs that ``table`` holds (a selection may lack one)."""
    return [r for r in (RUN_A, RUN_B) if r in runs_of(table)]


def by_seed(table: Any, run: str, column: str) -> Any:
    """``column`` of ``run`` as a DataFrame, architectures × seeds (in the table's order)."""
    if column not in table.columns:
        raise ValueError(f"no metric {column!r}: the table's columns are evidence.METRIC_COLUMNS")
    if run not in runs_of(table):
        raise NotInSelection(RUNS[run].short if run in RUNS else run)
    rows = table[table.index.get_level_values("run") == run][column].droplevel("run")
    archs = list(dict.fromkeys(rows.index.get_level_values("arch")))
    return rows.unstack("seed").loc[archs]


def need(frame: Any, *archs: str) -> Any:
    missing = [a for a in archs if a not in frame.index]
    if missing:
        raise NotInSelection(", ".join(missing))
    return frame


def others(values: Any, *archs: str) -> Any:
    """``values`` without the rows of ``archs``; NotInSelection when no other row is left."""
    rest = values.drop(index=[a for a in archs if a in values.index])
    if rest.empty:
        raise NotInSelection("the other architectures")
    return rest


def lead(values: Any, arch: str, higher_is_better: bool = True) -> Any:
    """Per seed: how far ``arch`` is ahead of the best other architecture (> 0: it is the best)."""
    need(values, arch)
    others_ = others(values, arch)
    return values.loc[arch] - others_.max() if higher_is_better else others_.min() - values.loc[arch]


def both_runs(per_run: Callable[[Any, str], tuple[Any, str]]) -> Callable[[Any], tuple[Any, str]]:
    """A claim about both main runs: tested in each (a dict run → margins)."""
    def margin(table: Any) -> tuple[Any, str]:
        parts = {r: per_run(table, r) for r in (RUN_A, RUN_B)}
        return ({r: m for r, (m, _) in parts.items()},
                "; ".join(f"{RUNS[r].short}: {text}" for r, (_, text) in parts.items()))
    return margin


def measured(values: Any) -> Any:
    """The seeds (columns) where ``values`` has a number: a metric some seeds do not carry."""
    return values.loc[:, values.notna().all()]


def per_seed(values: Any, digits: int = 1) -> str:
    return " / ".join(f"{float(v):.{digits}f}" for v in values)


def joined(names: Any) -> str:
    return " / ".join(str(v) for v in names)


def spearman(x: Any, y: Any) -> float:
    return float(x.rank().corr(y.rank()))


def hidden_layers(archs: Any) -> Any:
    import pandas as pd

    return pd.Series({a: len(vae_core.ARCHS[a]) for a in archs})


def chain_fraction(table: Any, run: str, column: str, arch: str) -> Any:
    return need(by_seed(table, run, column), arch).loc[arch]
