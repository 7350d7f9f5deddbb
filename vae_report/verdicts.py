"""Every checkable claim of the seed (``../shared/SEED-REPORT.md``), the test chosen for each, and
the verdicts, as plain functions of the metrics table.

The table is ``report.metrics_table``'s: indexed by (run, seed, arch), exactly the columns of
:data:`METRIC_COLUMNS` (the contract between the two: a missing or renamed column raises, it does
not turn into "not measured"). Each claim of :data:`CLAIMS` quotes the seed's words (a test checks
that every quote is in the seed, and that every sentence the list leaves out is listed in
:data:`NOT_JUDGED` with the reason), says where the seed says it, and gives a **margin**: one number
per training seed, > 0 when the claim holds in that seed. :mod:`stats` turns the margins into a
verdict — a t-interval over seeds (the exact sign test when the margins do not vary), Holm-adjusted
across the family — and each claim states a practical margin δ in its units.

A claim about both runs takes, per seed, the smaller of the two runs' margins (> 0 only when it
holds in both). Claims about the seed's broken chain are judged on the seed-faithful variant runs
(the seed's σ = exp(log σ), no floor): the study's own model floors σ and cannot fail that way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import vae_core

from . import stats
from .params import MAIN_RUNS, RUNS
from .stats import NOT_REPRODUCED, REPRODUCED, UNCLEAR, VERDICTS  # noqa: F401 (re-exported)

RUN_A, RUN_B = MAIN_RUNS
VARIANT_A, VARIANT_B = (next(r for r, run in RUNS.items() if run.variant_of == main)
                        for main in MAIN_RUNS)
DEEPEST = "deep-512-256-128"
ONE_HIDDEN_LAYER = ["deep-128", "deep-256", "deep-512"]
#: The KL (nats) below which a latent dimension counts as collapsed: the seed's 0.01 first, then a
#: factor 2 either side as a sensitivity check (shown in the evidence, not judged).
SEED_KL_THRESHOLD = 0.01
KL_THRESHOLDS: tuple[float, ...] = (0.005, 0.01, 0.02)
#: float32 exp(x) is 0 below x ≈ −103.3 and leaves the normal range below −87.3; it overflows above
#: 88.7: where σ = exp(log σ) "collapsed to zero or infinity" (the seed's words).
EXP_BREAKS_AT = 87.3
THEIS = "likelihood and sample quality can disagree (Theis, van den Oord & Bethge, ICLR 2016)"

#: The columns of the metrics table, one home for the code and its tests (report.metrics_table).
METRIC_COLUMNS: tuple[str, ...] = (
    "test_elbo", "test_iwae", "recon_sq_error",
    *(f"collapsed_kl_{t:g}" for t in KL_THRESHOLDS), "min_dim_kl", "active_units",
    "final_gap_nats", "val_gain_after_tenth", "val_gain_last_tenth", "val_gain_first_fifth",
    "val_gain_after_fifth", "val_drops_first_fifth", "decoder_std",
    "chain_finite", "final_saturated", "frechet_distance", "chain_confidence", "class_switches",
    "morphing_chains", "fading_chains")


class NotInSelection(LookupError):
    """A claim names a run or an architecture the study (a selection) did not render."""


@dataclass(frozen=True)
class SeedClaim:
    """One claim of the seed: its words (``quote``, verbatim), where it stands (``where``), what
    this study tests (``claim``), the margin and why (``test``), its unit and practical margin
    ``delta``; ``margin(table)`` gives the per-seed margins (a Series indexed by seed) and the
    evidence text."""

    key: str
    quote: str
    where: str
    claim: str
    test: str
    unit: str
    delta: float
    margin: Callable[[Any], tuple[Any, str]]
    digits: int = 1


@dataclass(frozen=True)
class NotJudged:
    """A sentence of the seed that states something this study does not judge, and why."""

    quote: str
    where: str
    why: str


# --------------------------------------------------------------------------------------------
# Reading the table
# --------------------------------------------------------------------------------------------

def check_columns(table: Any) -> None:
    """A ValueError naming the columns the table lacks or adds, against :data:`METRIC_COLUMNS`."""
    missing = [c for c in METRIC_COLUMNS if c not in table.columns]
    extra = [c for c in table.columns if c not in METRIC_COLUMNS]
    if missing or extra:
        raise ValueError(f"the metrics table does not match verdicts.METRIC_COLUMNS: missing "
                         f"{missing}, unexpected {extra}; report.metrics_table and the claims "
                         f"must change together")


def runs_of(table: Any) -> list[str]:
    return list(dict.fromkeys(table.index.get_level_values("run")))


def main_runs(table: Any) -> list[str]:
    """The seed's two runs that ``table`` holds (a selection may lack one)."""
    return [r for r in (RUN_A, RUN_B) if r in runs_of(table)]


def by_seed(table: Any, run: str, column: str) -> Any:
    """``column`` of ``run`` as a DataFrame, architectures × seeds (in the table's order)."""
    if column not in table.columns:
        raise ValueError(f"no metric {column!r}: the table's columns are verdicts.METRIC_COLUMNS")
    if run not in runs_of(table):
        raise NotInSelection(RUNS[run].short if run in RUNS else run)
    rows = table[table.index.get_level_values("run") == run][column].droplevel("run")
    archs = list(dict.fromkeys(rows.index.get_level_values("arch")))
    return rows.unstack("seed").loc[archs]


def _need(frame: Any, *archs: str) -> Any:
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
    _need(values, arch)
    others_ = others(values, arch)
    return values.loc[arch] - others_.max() if higher_is_better else others_.min() - values.loc[arch]


def both_runs(per_run: Callable[[str], Any]) -> Callable[[Any], tuple[Any, str]]:
    """A margin over both main runs: per seed the smaller of the runs' margins."""
    def margin(table: Any) -> tuple[Any, str]:
        parts = {r: per_run(table, r) for r in (RUN_A, RUN_B)}
        seeds = [s for s in parts[RUN_A][0].index if s in parts[RUN_B][0].index]
        m = parts[RUN_A][0].loc[seeds].combine(parts[RUN_B][0].loc[seeds], min)
        return m, "; ".join(f"{RUNS[r].short}: {text}" for r, (_, text) in parts.items())
    return margin


def _per_seed(values: Any, digits: int = 1) -> str:
    return " / ".join(f"{float(v):.{digits}f}" for v in values)


def _names(names: Any) -> str:
    return " / ".join(str(v) for v in names)


def _spearman(x: Any, y: Any) -> float:
    return float(x.rank().corr(y.rank()))


def _layers(archs: Any) -> Any:
    import pandas as pd

    return pd.Series({a: len(vae_core.ARCHS[a]) for a in archs})


def _chain_frac(table: Any, run: str, column: str, arch: str) -> Any:
    return _need(by_seed(table, run, column), arch).loc[arch]


# --------------------------------------------------------------------------------------------
# The margins, one per claim
# --------------------------------------------------------------------------------------------

def _highest(run: str, arch: str, column: str = "test_elbo") -> Callable[[Any], tuple[Any, str]]:
    def margin(table: Any) -> tuple[Any, str]:
        v = by_seed(table, run, column)
        return lead(v, arch), f"highest per seed: {_names(v.idxmax())}"
    return margin


def _deepest_lowest_elbo(table: Any) -> tuple[Any, str]:
    v = by_seed(table, RUN_A, "test_elbo")
    return lead(v, DEEPEST, higher_is_better=False), f"lowest per seed: {_names(v.idxmin())}"


def _deep512_best_one_layer(table: Any) -> tuple[Any, str]:
    v = _need(by_seed(table, RUN_A, "test_elbo"), *ONE_HIDDEN_LAYER).loc[ONE_HIDDEN_LAYER]
    return lead(v, "deep-512"), ", ".join(f"{a} {_per_seed(v.loc[a], 0)}" for a in ONE_HIDDEN_LAYER)


def _deepest_rises_again(table: Any) -> tuple[Any, str]:
    v = _need(by_seed(table, RUN_B, "test_elbo"), DEEPEST, "deep-256-128", "deep-512-256")
    two = v.loc[["deep-256-128", "deep-512-256"]].max()
    return v.loc[DEEPEST] - two, (f"deepest {_per_seed(v.loc[DEEPEST], 0)}, better two-layer "
                                  f"model {_per_seed(two, 0)} nats")


def _vanilla_stops_early(table: Any) -> tuple[Any, str]:
    gain = _need(by_seed(table, RUN_A, "val_gain_after_tenth"), "vanilla")
    deep = others(gain, "vanilla").min()
    return (deep - gain.loc["vanilla"],
            f"validation ELBO gained after the first tenth of training: vanilla "
            f"{_per_seed(gain.loc['vanilla'])}, smallest deep model {_per_seed(deep)} nats")


def _validation_follows(table: Any, run: str, tolerance: float = 10.0) -> tuple[Any, str]:
    gap = by_seed(table, run, "final_gap_nats").abs().max()
    return tolerance - gap, f"largest |training − validation| at the last epoch {_per_seed(gap)} nats"


def _deep_learn_further(table: Any) -> tuple[Any, str]:
    gain = others(by_seed(table, RUN_A, "val_gain_last_tenth"), "vanilla")
    return gain.min(), f"smallest gain of a deep model over the last tenth {_per_seed(gain.min(), 2)} nats"


def _recon(table: Any, run: str) -> Any:
    return by_seed(table, run, "recon_sq_error")


def _deep512_sharpest(table: Any) -> tuple[Any, str]:
    e = _recon(table, RUN_A)
    return lead(e, "deep-512", higher_is_better=False), f"sharpest per seed: {_names(e.idxmin())}"


def _deepest_among_sharpest(table: Any) -> tuple[Any, str]:
    e = _need(_recon(table, RUN_A), DEEPEST)
    second = others(e, DEEPEST).apply(lambda col: col.nsmallest(2).iloc[-1])
    rank = e.rank(method="min").loc[DEEPEST]
    return second - e.loc[DEEPEST], f"deepest's rank by reconstruction error {_names(rank.astype(int))}"


def _vanilla_blurriest(table: Any) -> tuple[Any, str]:
    e = _need(_recon(table, RUN_A), "vanilla")
    return lead(e, "vanilla"), f"blurriest per seed: {_names(e.idxmax())}"   # the largest error


def _depth_correlation(values: Any) -> Any:
    """Per seed: Pearson's correlation over the models between their hidden layers and
    ``values`` (architectures × seeds). Not Spearman's: with seven models a rank correlation
    takes few values and often the same one in every seed, which no test over seeds can judge."""
    others(values, values.index[0])             # a correlation needs several models
    layers = _layers(values.index).astype(float)
    return values.apply(lambda col: float(np.corrcoef(layers, col.astype(float))[0, 1]))


def _b_deeper_blurrier(table: Any) -> tuple[Any, str]:
    r = _depth_correlation(_recon(table, RUN_B))
    return r, f"correlation of hidden layers and reconstruction error {_per_seed(r, 2)}"


def _lead_over_worst_better(ranked: Any, values: Any, higher_is_better: bool) -> Any:
    """Per seed: the deepest model's lead on ``values`` over the worst (on ``values``) of the
    models that beat it on ``ranked`` (> 0: it overtakes one of them); NaN when none beats it.
    Both frames architectures × seeds."""
    import pandas as pd

    out = {}
    for s in ranked.columns:
        better = ranked.index[ranked[s] > ranked.loc[DEEPEST, s]]
        if not len(better):
            out[s] = math.nan
        elif higher_is_better:
            out[s] = values.loc[DEEPEST, s] - values.loc[better, s].min()
        else:
            out[s] = values.loc[better, s].max() - values.loc[DEEPEST, s]
    return pd.Series(out)


def _bound_lifts_deepest(table: Any) -> tuple[Any, str]:
    elbo = _need(by_seed(table, RUN_A, "test_elbo"), DEEPEST)
    iwae = by_seed(table, RUN_A, "test_iwae")
    by_e = elbo.rank(ascending=False, method="min").loc[DEEPEST]
    by_w = iwae.rank(ascending=False, method="min").loc[DEEPEST]
    return (_lead_over_worst_better(elbo, iwae, higher_is_better=True),
            f"deepest's rank by ELBO {_names(by_e.astype(int))}, by IWAE "
            f"{_names(by_w.astype(int))}")


def _elbo_not_enough(table: Any) -> tuple[Any, str]:
    iwae = _need(by_seed(table, RUN_A, "test_iwae"), DEEPEST)
    fd = by_seed(table, RUN_A, "frechet_distance")
    rho = [_spearman(iwae[s], -fd[s]) for s in iwae.columns]
    return (_lead_over_worst_better(iwae, fd, higher_is_better=False),
            f"rank correlation of likelihood (IWAE) and sample quality (−FD) over the models "
            f"{_per_seed(rho, 2)}; {THEIS}")


def _no_collapse(arch: str) -> Callable[[Any, str], tuple[Any, str]]:
    def per_run(table: Any, run: str) -> tuple[Any, str]:
        kl = _need(by_seed(table, run, "min_dim_kl"), arch).loc[arch]
        counts = ", ".join(f"KL < {t:g}: " + _per_seed(
            by_seed(table, run, f"collapsed_kl_{t:g}").loc[arch], 0) for t in KL_THRESHOLDS)
        return kl - SEED_KL_THRESHOLD, f"smallest dimension's KL {_per_seed(kl, 3)} ({counts})"
    return per_run


def _others_collapse(table: Any, run: str) -> tuple[Any, str]:
    """Each other model has a dimension below the seed's threshold ⇔ the largest of their
    smallest-dimension KLs is below it: a margin in nats that varies from seed to seed (a count
    of collapsed dimensions can be 0 in every seed, which no test over seeds can judge)."""
    spared = {"vanilla", "deep-512"} | ({"deep-256"} if run == RUN_B else set())
    smallest = others(by_seed(table, run, "min_dim_kl"), *spared)
    counts = others(by_seed(table, run, f"collapsed_kl_{SEED_KL_THRESHOLD:g}"), *spared)
    return (SEED_KL_THRESHOLD - smallest.max(),
            f"the other model whose smallest KL is largest: {_names(smallest.idxmax())} "
            f"({_per_seed(smallest.max(), 3)} nats; fewest collapsed {_per_seed(counts.min(), 0)})")


def _deepest_most_collapsed(table: Any, run: str) -> tuple[Any, str]:
    c = by_seed(table, run, f"collapsed_kl_{SEED_KL_THRESHOLD:g}")
    sens = ", ".join(f"at {t:g}: " + _per_seed(lead(by_seed(table, run, f"collapsed_kl_{t:g}"), DEEPEST), 0)
                     for t in KL_THRESHOLDS if t != SEED_KL_THRESHOLD)
    return lead(c, DEEPEST), f"deepest's lead at KL < 0.01 {_per_seed(lead(c, DEEPEST), 0)} dims ({sens})"


def _deepest_majority(table: Any) -> tuple[Any, str]:
    c = _need(by_seed(table, RUN_B, f"collapsed_kl_{SEED_KL_THRESHOLD:g}"), DEEPEST).loc[DEEPEST]
    active = by_seed(table, RUN_B, "active_units").loc[DEEPEST]
    return c - 32.5, f"collapsed {_per_seed(c, 0)} of 64, active units {_per_seed(active, 0)}"


def _deep256_no_collapse_b(table: Any) -> tuple[Any, str]:
    return _no_collapse("deep-256")(table, RUN_B)


def _deepest_samples(table: Any, run: str) -> tuple[Any, str]:
    fd = by_seed(table, run, "frechet_distance")
    mean = fd.mean(axis=1)
    return (lead(fd, DEEPEST, higher_is_better=False),
            f"lowest {mean.idxmin()} ({mean.min():.1f}), deepest {mean[DEEPEST]:.1f}")


def _depth_and_samples(table: Any, run: str) -> tuple[Any, str]:
    r = _depth_correlation(-by_seed(table, run, "frechet_distance"))
    return r, f"correlation of hidden layers and −FD {_per_seed(r, 2)}"


def _sigma_breaks(table: Any) -> tuple[Any, str]:
    sigma = by_seed(table, VARIANT_A, "decoder_std")
    log_sigma = sigma.apply(lambda col: col.map(math.log))
    worst = log_sigma.abs().max()
    steps = "≈ 300,000 steps at batch 16"
    return worst - EXP_BREAKS_AT, (f"{RUNS[VARIANT_A].short}: log σ at the end "
                                   f"{_per_seed(log_sigma.min(), 2)} … {_per_seed(log_sigma.max(), 2)}; "
                                   f"exp(log σ) reaches 0 or ∞ in float32 only beyond |log σ| ≈ "
                                   f"{EXP_BREAKS_AT:g} (Adam moves it ≤ lr = 3e-4 a step: ≤ 90 over "
                                   f"{steps})")


def _batch16_breaks_chain(table: Any) -> tuple[Any, str]:
    a = by_seed(table, VARIANT_A, "final_saturated").max()
    b = by_seed(table, VARIANT_B, "final_saturated").max()
    seeds = [s for s in a.index if s in b.index]
    finite = {r: bool(by_seed(table, r, "chain_finite").all().all()) for r in (VARIANT_A, VARIANT_B)}
    floored = ", ".join(f"{RUNS[r].short} {100 * by_seed(table, r, 'final_saturated').max().max():.0f} %"
                        for r in main_runs(table))
    return ((a.loc[seeds] - 0.5).combine(0.5 - b.loc[seeds], min),
            f"share of final pixels ≥ 1 (worst model per seed): {RUNS[VARIANT_A].short} "
            f"{_per_seed(a, 2)}, {RUNS[VARIANT_B].short} {_per_seed(b, 2)}; all states finite: "
            + ", ".join(f"{RUNS[r].short} {'yes' if f else 'no'}" for r, f in finite.items())
            + (f"; the floored model's runs: at most {floored}" if floored else ""))


def _batch16_regularises(table: Any) -> tuple[Any, str]:
    a = by_seed(table, RUN_A, "final_gap_nats")
    b = by_seed(table, RUN_B, "final_gap_nats")
    seeds = [s for s in a.columns if s in b.columns]
    m = (b[seeds] - a[seeds]).mean()
    return m, f"mean training − validation gap: run A {_per_seed(a.mean())}, run B {_per_seed(b.mean())} nats"


def _retrained_steadier(table: Any) -> tuple[Any, str]:
    a = by_seed(table, RUN_A, "val_drops_first_fifth")
    b = by_seed(table, RUN_B, "val_drops_first_fifth")
    seeds = [s for s in a.columns if s in b.columns]
    return ((a[seeds] - b[seeds]).mean(),
            f"epochs in the first fifth whose validation ELBO fell, mean over models: run A "
            f"{_per_seed(a.mean())}, run B {_per_seed(b.mean())}")


def _slows_after_fifth(table: Any) -> tuple[Any, str]:
    first = by_seed(table, RUN_B, "val_gain_first_fifth")
    after = by_seed(table, RUN_B, "val_gain_after_fifth")
    m = (first - after).min()
    return m, f"smallest (first-fifth gain − later gain) over the models {_per_seed(m, 0)} nats"


def _deepest_promising(table: Any) -> tuple[Any, str]:
    g = by_seed(table, RUN_B, "val_gain_last_tenth")
    return lead(g, DEEPEST), f"largest gain over the last tenth per seed: {_names(g.idxmax())}"


def _vanilla_chain_unclear(table: Any) -> tuple[Any, str]:
    c = by_seed(table, RUN_B, "chain_confidence")
    return lead(c, "vanilla", higher_is_better=False), f"lowest mean frame confidence: {_names(c.idxmin())}"


def _deepest_chain_clearest(table: Any) -> tuple[Any, str]:
    c = by_seed(table, RUN_B, "chain_confidence")
    return lead(c, DEEPEST), f"highest mean frame confidence: {_names(c.idxmax())}"


def _deepest_chain_morphs(table: Any) -> tuple[Any, str]:
    morph = _chain_frac(table, RUN_B, "morphing_chains", DEEPEST)
    fade = _chain_frac(table, RUN_B, "fading_chains", DEEPEST)
    switches = _chain_frac(table, RUN_B, "class_switches", DEEPEST)
    return morph - 0.05, (f"share of chains that morph (a class change between digit-like "
                          f"frames) {_per_seed(morph, 2)}, that fade {_per_seed(fade, 2)}; "
                          f"class changes per chain {_per_seed(switches)}")


# --------------------------------------------------------------------------------------------
# The seed's claims, in its order
# --------------------------------------------------------------------------------------------
_TRAIN, _ELBO, _COLLAPSE, _SAMPLES, _CHAIN, _RETRAIN = (
    "Implementation and training", "Model comparison: ELBO", "Posterior collapse",
    "Decoder evaluation", "Limiting distribution", "Retraining on batches of size 64")

CLAIMS: list[SeedClaim] = [
    SeedClaim("vanilla_stops_early",
              "the vanilla model with only a single linear layer learns really fast to a value of "
              "ELBO around 35 and then it basically stops learning", _TRAIN,
              "Run A: after a fast start the vanilla model stops learning",
              "validation ELBO gained after the first tenth of the epochs: smallest deep model's − "
              "vanilla's (its 35 is the seed's scale, not comparable)", "nats", 10.0,
              _vanilla_stops_early),
    SeedClaim("validation_follows_training",
              "the validation loss follows exactly the training loss for all models", _TRAIN,
              "Validation follows training for every model (both runs)",
              "10 nats per image − the largest |training − validation ELBO| at the last epoch "
              "(nats: a percentage of an ELBO whose zero is arbitrary means nothing)", "nats", 2.0,
              both_runs(_validation_follows)),
    SeedClaim("deep_learn_further",
              "all the deeper models look like they could learn further", _TRAIN,
              "Run A: every deep model still improves at the end",
              "the smallest validation-ELBO gain of a deep model over the last tenth of the epochs",
              "nats", 1.0, _deep_learn_further, digits=2),
    SeedClaim("deep512_best_one_layer",
              "The model with a single hidden layer but most hidden units reached the highest value "
              "of ELBO compared to the other models with a single hidden layer but fewer units.",
              _TRAIN, "Run A: deep-512 beats the other one-hidden-layer models",
              "test ELBO: deep-512 − the better of deep-128 and deep-256", "nats", 5.0,
              _deep512_best_one_layer),
    SeedClaim("vanilla_blurriest",
              "Even the vanilla model can reconstruct the images but the blur is quite high", _TRAIN,
              "Run A: the vanilla model's reconstructions are the blurriest",
              "test reconstruction squared error per image (from the log-likelihood and σ): "
              "vanilla's − the largest other", "sq. error", 0.5, _vanilla_blurriest, digits=2),
    SeedClaim("deep512_sharpest",
              "the model with one layer with 512 units seems to produce the sharpest images", _TRAIN,
              "Run A: deep-512's reconstructions are the sharpest",
              "test reconstruction squared error: the smallest other − deep-512's", "sq. error", 0.5,
              _deep512_sharpest, digits=2),
    SeedClaim("deep512_highest_elbo",
              "The highest value was achieved by the model with one layer and 512 hidden units",
              _ELBO, "Run A: deep-512 has the highest test ELBO",
              "test ELBO: deep-512 − the best other", "nats", 5.0, _highest(RUN_A, "deep-512")),
    SeedClaim("deepest_lowest_elbo",
              "the last model with the most layers in encoder and decoder has the lowest achieved "
              "ELBO", _ELBO, "Run A: the deepest model has the lowest test ELBO",
              "test ELBO: the worst other − deepest", "nats", 5.0, _deepest_lowest_elbo),
    SeedClaim("deepest_among_sharpest",
              "but the images are among the sharpest produced", _ELBO,
              "Run A: the deepest model's reconstructions are among the two sharpest",
              "reconstruction squared error: the second smallest of the others − deepest's",
              "sq. error", 0.5, _deepest_among_sharpest, digits=2),
    SeedClaim("lower_bound_explains",
              "In training we were optimizing a lower bound which might explain this phenomenon.",
              _ELBO, "Run A: the tighter IWAE bound lifts the deepest model past a model that beat "
              "it by ELBO", "IWAE: deepest − the lowest of the models with a higher ELBO (> 0: it "
              "overtakes one)", "nats", 5.0, _bound_lifts_deepest),
    SeedClaim("vanilla_no_collapse",
              "the vanilla model does not have any collapsed posteriors", _COLLAPSE,
              "The vanilla model has no collapsed dimension (both runs; the seed's KL < 0.01)",
              "the smallest dimension's KL − 0.01 (the seed's threshold; 0.005 and 0.02 shown)",
              "nats", 0.0, both_runs(_no_collapse("vanilla")), digits=3),
    SeedClaim("deep512_no_collapse",
              "similarly to the model with 512 hidden units", _COLLAPSE,
              "deep-512 has no collapsed dimension (both runs)",
              "the smallest dimension's KL − 0.01", "nats", 0.0,
              both_runs(_no_collapse("deep-512")), digits=3),
    SeedClaim("others_collapse",
              "All other models I trained have some", _COLLAPSE,
              "Every other model has a collapsed dimension (both runs)",
              "0.01 − the largest smallest-dimension KL of the other models (> 0: each has a "
              "dimension below the seed's threshold)", "nats", 0.0, both_runs(_others_collapse),
              digits=3),
    SeedClaim("deepest_most_collapsed",
              "the most collapsed posteriors are in the model with 512 – 256 – 128 hidden units",
              _COLLAPSE, "The deepest model has the most collapsed dimensions (both runs)",
              "collapsed dimensions at the seed's KL < 0.01: deepest − the most of the others",
              "dims", 1.0, both_runs(_deepest_most_collapsed)),
    SeedClaim("deepest_samples_digit_like",
              "it generated images that are somewhat similar to the training images from MNIST",
              _SAMPLES, "The deepest model's samples look most like digits (both runs)",
              "Fréchet distance in the classifier's features: the best other − deepest", "FD", 1.0,
              both_runs(_deepest_samples), digits=2),
    SeedClaim("elbo_not_enough",
              "So maybe just using ELBO and collapsed posteriors is not enough to evaluate the "
              "quality of a model.", _SAMPLES,
              "Run A: some model with a higher likelihood than the deepest has worse samples",
              "Fréchet distance: the worst of the models with a higher IWAE − deepest's", "FD", 1.0,
              _elbo_not_enough, digits=2),
    SeedClaim("depth_matters_for_samples",
              "it might be the case that the depth of the decoder matters much for the quality of "
              "generated images", _SAMPLES,
              "Deeper decoders give better samples (both runs)",
              "Pearson correlation over the 7 models of hidden layers and −Fréchet distance",
              "r", 0.3, both_runs(_depth_and_samples), digits=2),
    SeedClaim("sigma_collapses",
              "it collapsed to zero or infinity", _CHAIN,
              "Run A′ (seed's σ): σ = exp(log σ) reaches 0 or ∞ at batch 16",
              "largest |final log σ| over the models − 87.3 (where float32 exp underflows)",
              "log σ", 1.0, _sigma_breaks, digits=2),
    SeedClaim("batch16_breaks_chain",
              "The result of the 100 steps resulted in images filled with all ones or close to "
              "all ones.", _CHAIN,
              "With the seed's σ, batch 16 fills the chain with ones and batch 64 + Kaiming does not",
              "per seed the smaller of (A′'s worst share of final pixels ≥ 1 − ½) and "
              "(½ − B′'s worst share)", "share", 0.1, _batch16_breaks_chain, digits=2),
    SeedClaim("batch16_regularises",
              "it serves as implicit regularization so the models should generalize better",
              _CHAIN, "Batch 16 (run A) generalises better than batch 64 (run B)",
              "mean over models of the training − validation gap: run B's − run A's", "nats", 2.0,
              _batch16_regularises),
    SeedClaim("retrained_steadier",
              "the learning is much more steady in the beginning", _RETRAIN,
              "Run B learns more steadily than run A early on",
              "epochs of the first fifth whose validation ELBO fell, mean over models: A's − B's",
              "epochs", 0.5, _retrained_steadier, digits=2),
    SeedClaim("slows_after_twenty",
              "after around 20 epochs, the learning slows down considerably", _RETRAIN,
              "Run B: every model gains more in the first fifth of the epochs than after",
              "the smallest (gain in the first fifth − gain after it) over the models", "nats",
              10.0, _slows_after_fifth),
    SeedClaim("deepest_promising_increase",
              "the most deep model shows some promising increase in ELBO in the last ten or so "
              "epochs", _RETRAIN, "Run B: the deepest model gains most over the last tenth",
              "validation-ELBO gain over the last tenth: deepest − the largest other", "nats", 1.0,
              _deepest_promising, digits=2),
    SeedClaim("deeper_blurrier_b",
              "even though the deeper models with considerably bigger blur effect", _RETRAIN,
              "Run B: deeper models reconstruct more blurrily",
              "Pearson correlation over the 7 models of hidden layers and reconstruction error",
              "r", 0.3, _b_deeper_blurrier, digits=2),
    SeedClaim("deep256_highest_b",
              "the model with 256 hidden units in one layer achieved the highest ELBO, which then "
              "started to drop", _RETRAIN, "Run B: deep-256 has the highest test ELBO",
              "test ELBO: deep-256 − the best other", "nats", 5.0, _highest(RUN_B, "deep-256")),
    SeedClaim("deepest_rises_again",
              "for the deepest model, the ELBO started increasing again", _RETRAIN,
              "Run B: the deepest model beats the two-hidden-layer models",
              "test ELBO: deepest − the better two-layer model", "nats", 5.0, _deepest_rises_again),
    SeedClaim("deep256_no_collapse_b",
              "(and here even 256)", _RETRAIN,
              "Run B: deep-256 has no collapsed dimension",
              "the smallest dimension's KL − 0.01", "nats", 0.0, _deep256_no_collapse_b, digits=3),
    SeedClaim("deepest_majority_collapsed",
              "which is also the majority of the dimensions", _RETRAIN,
              "Run B: most of the deepest model's dimensions collapse (> 32 of 64)",
              "collapsed dimensions (KL < 0.01) − 32½", "dims", 1.0, _deepest_majority),
    SeedClaim("vanilla_chain_unclear",
              "sometimes one might discern something what resembles a number but not very clearly",
              _RETRAIN, "Run B: the vanilla model's chain is the least digit-like",
              "mean classifier confidence over the chain's frames: the lowest other − vanilla's",
              "conf.", 0.05, _vanilla_chain_unclear, digits=3),
    SeedClaim("deepest_chain_clearest",
              "the best performing model in terms most clear limiting distribution, which is the "
              "deepest model", _RETRAIN, "Run B: the deepest model's chain is the most digit-like",
              "mean frame confidence: deepest − the highest other", "conf.", 0.05,
              _deepest_chain_clearest, digits=3),
    SeedClaim("deepest_chain_morphs",
              "they are sometimes morphing into another digits", _RETRAIN,
              "Run B: the deepest model's chains morph from digit to digit (not just fade)",
              "share of chains with a class change between two digit-like frames (confidence ≥ 0.9, "
              "≥ ½ the start's ink) − 0.05", "share", 0.05, _deepest_chain_morphs, digits=2),
]

#: The seed's other statements of fact, and why this study does not judge them.
NOT_JUDGED: list[NotJudged] = [
    NotJudged("the learning curves of all deep models have almost exactly the same shape", _TRAIN,
              "no measure of 'shape' is given; Figures 1 and 5 show the curves side by side"),
    NotJudged("all the models reconstruct the images well", _TRAIN,
              "'well' has no bar; the reconstruction errors and the tableau are shown"),
    NotJudged("we could train a model with much smaller latent dimension",
              _RETRAIN, "a conjecture about models this study does not train (one latent size)"),
    NotJudged("is again similar to the previous case but slightly more blurry", _RETRAIN,
              "no sharpness of samples is measured; the Fréchet distances of both runs are shown"),
]


# --------------------------------------------------------------------------------------------
# Judging
# --------------------------------------------------------------------------------------------

@dataclass
class Judged:
    """One claim judged on a table: its margins' test and the evidence (or why it is not
    measured in this selection)."""

    claim: SeedClaim
    evidence: str
    test: stats.MarginTest | None = None
    verdict: str = UNCLEAR
    interval: tuple[float, float] = (math.nan, math.nan)
    level: float = math.nan
    practical: str = ""


def judge(table: Any, claims: list[SeedClaim] | None = None, alpha: float = stats.ALPHA) -> list[Judged]:
    """Every claim of ``claims`` (default :data:`CLAIMS`) judged on ``table``: the margins'
    tests, Holm-adjusted across the claims measured here (a claim about a run or an architecture
    the selection lacks is *unclear*, "not measured", and not part of the family)."""
    check_columns(table)
    judged = []
    for c in claims if claims is not None else CLAIMS:
        try:
            margins, evidence = c.margin(table)
        except NotInSelection as missing:
            judged.append(Judged(c, f"not measured: {missing} is not in this study"))
            continue
        judged.append(Judged(c, evidence, stats.margin_test([float(x) for x in margins])))
    tested = [j for j in judged if j.test is not None]
    rejected, levels = stats.holm([j.test.p for j in tested], alpha)
    for j, rej, level in zip(tested, rejected, levels):
        j.level = level
        j.interval = j.test.interval(level)
        j.verdict = stats.verdict(j.test, rej)
        j.practical = stats.practical(j.interval, j.verdict, j.claim.delta)
    return judged


def interval_text(j: Judged) -> str:
    """``+12.3 [+8.1, +16.5] nats (n = 5, t, 99.8 %)`` — the mean margin, its Holm-level
    interval, the seeds and the test; "—" when not measured."""
    if j.test is None:
        return "—"
    d, unit = j.claim.digits, f" {j.claim.unit}" if j.claim.unit else ""
    t = j.test
    if t.method == stats.NO_TEST:
        return f"{t.mean:+.{d}f}{unit} (n = {t.n}: no test)"
    if t.method == stats.SIGN_TEST:
        return f"{t.mean:+.{d}f}{unit} in all {t.n} seeds (sign test, p = {t.p:.2g})"
    lo, hi = j.interval
    return (f"{t.mean:+.{d}f} [{lo:+.{d}f}, {hi:+.{d}f}]{unit} (n = {t.n}, "
            f"{100 * (1 - j.level):.1f} % CI)")


def evaluate_claims(table: Any) -> Any:
    """The claims table of the report: one row per claim of :data:`CLAIMS` with the seed's words,
    the test, the evidence, the margin's interval with δ, and the verdict."""
    import pandas as pd

    rows = []
    for j in judge(table):
        c = j.claim
        rows.append((c.claim, f"“{c.quote}” ({c.where})", f"{c.test}; {j.evidence}",
                     interval_text(j) + (f"; δ = {c.delta:g} {c.unit}".rstrip() if j.test else "")
                     + (f" ({j.practical})" if j.practical else ""), j.verdict))
    return pd.DataFrame(rows, columns=COLUMNS)


def elbo_vs_iwae(table: Any, run: str) -> dict[str, Any]:
    """How the ELBO and the importance-weighted bound rank ``run``'s models (seed means): the
    best by each, their Spearman rank correlation, and the largest IWAE − ELBO gap."""
    e = by_seed(table, run, "test_elbo").mean(axis=1)
    w = by_seed(table, run, "test_iwae").mean(axis=1)
    return {"best by ELBO": e.idxmax(), "best by IWAE": w.idxmax(),
            "rank correlation (Spearman)": _spearman(e, w),
            "largest IWAE − ELBO (nats)": float((w - e).max()), "model with it": (w - e).idxmax()}


#: The claims table's columns.
COLUMNS = ["claim", "the seed's words", "test; this study", "margin [CI]; δ", "verdict"]

#: How the report states the rule, next to the table.
RULE = (f"Each claim is judged through a margin per training seed that is > 0 when the claim holds "
        f"in that seed. The mean margin gets a t-test over the seeds (the exact sign test when the "
        f"margins do not vary) and the p-values are Holm-adjusted across the claims measured "
        f"(family-wise error {stats.ALPHA:g}): *reproduced* when the test rejects with a positive "
        f"mean, *not reproduced* when it rejects with a negative one, *unclear* otherwise. The "
        f"interval is the mean margin's at the claim's Holm level; δ is the smallest margin that "
        f"would matter in practice (≥ δ / < δ: whether the whole interval clears it).")


def caption(seeds: dict[str, list[int]]) -> str:
    """The claims table's caption: the seeds behind it, the rule, and what is not judged."""
    counts = ", ".join(f"{RUNS[r].short}: {len(s)}" for r, s in seeds.items())
    return ("**Claims and verdicts.** Every claim of the seed in its order, judged over every "
            f"seed of each run ({counts} seeds). " + RULE + " Not judged, and why: "
            + "; ".join(f"“{n.quote}” — {n.why}" for n in NOT_JUDGED) + ".")
