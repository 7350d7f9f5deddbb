"""The margins of the seed's claims, one function each: per training seed a number that is > 0
when the claim holds in that seed, and the evidence in words. ``claims.CLAIMS`` pairs each with
the seed's words; ``judge`` turns margins into verdicts.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

import vae_core

from vae_report.params import RUNS
from .evidence import (DEEPEST, EXP_BREAKS_AT, KL_THRESHOLD, KL_THRESHOLDS, NotInSelection,
                       ONE_HIDDEN_LAYER, RUN_A, RUN_B, THEIS, TwoRuns, VARIANT_A, VARIANT_B,
                       by_seed, chain_fraction, hidden_layers, joined, lead, measured, need, others,
                       per_seed, spearman)

def highest(run: str, arch: str) -> Callable[..., tuple[Any, str]]:
    def margin(table: Any, column: str = "test_elbo") -> tuple[Any, str]:
        v = by_seed(table, run, column)
        return lead(v, arch), f"highest per seed: {joined(v.idxmax())}"
    return margin


def deepest_lowest_elbo(table: Any, column: str = "test_elbo") -> tuple[Any, str]:
    v = by_seed(table, RUN_A, column)
    return lead(v, DEEPEST, higher_is_better=False), f"lowest per seed: {joined(v.idxmin())}"


def deepest_rises_again(table: Any, column: str = "test_elbo") -> tuple[Any, str]:
    v = need(by_seed(table, RUN_B, column), DEEPEST, "deep-256-128", "deep-512-256")
    two = v.loc[["deep-256-128", "deep-512-256"]].max()
    return v.loc[DEEPEST] - two, (f"deepest {per_seed(v.loc[DEEPEST], 0)}, better two-layer "
                                  f"model {per_seed(two, 0)} nats")


def vanilla_stops_early(table: Any) -> tuple[Any, str]:
    gain = need(by_seed(table, RUN_A, "val_gain_after_tenth"), "vanilla")
    deep = others(gain, "vanilla").min()
    return (deep - gain.loc["vanilla"],
            f"validation ELBO gained after the first tenth of training: vanilla "
            f"{per_seed(gain.loc['vanilla'])}, smallest deep model {per_seed(deep)} nats")


def validation_follows(table: Any, run: str, tolerance: float = 10.0) -> tuple[Any, str]:
    gap = by_seed(table, run, "final_gap_nats").abs().max()
    return tolerance - gap, f"largest |training − validation| at the last epoch {per_seed(gap)} nats"


def deep_learn_further(table: Any) -> tuple[Any, str]:
    gain = others(by_seed(table, RUN_A, "val_gain_last_tenth"), "vanilla")
    return gain.min(), f"smallest gain of a deep model over the last tenth {per_seed(gain.min(), 2)} nats"


def deeper_learn_more(table: Any) -> tuple[Any, str]:
    gain = by_seed(table, RUN_A, "val_gain_last_tenth")
    one = need(gain, *ONE_HIDDEN_LAYER).loc[ONE_HIDDEN_LAYER].mean()
    multi = gain.loc[[a for a in gain.index if len(vae_core.ARCHS[a]) > 1]]
    if multi.empty:
        raise NotInSelection("the models with more layers")
    return multi.mean() - one, (f"mean gain over the last tenth: models with more layers "
                                f"{per_seed(multi.mean(), 2)}, one hidden layer "
                                f"{per_seed(one, 2)} nats")


def recon(table: Any, run: str) -> Any:
    return by_seed(table, run, "recon_sq_error")


def deep512_sharpest(table: Any) -> tuple[Any, str]:
    e = recon(table, RUN_A)
    return lead(e, "deep-512", higher_is_better=False), f"sharpest per seed: {joined(e.idxmin())}"


def deepest_among_sharpest(table: Any) -> tuple[Any, str]:
    """Sharpness independent of the likelihood: the gradient energy of the reconstructions
    relative to the originals' (``recon_sharpness``), measured where the cell kept its
    reconstruction images (the first seed of each run)."""
    g = measured(need(by_seed(table, RUN_A, "recon_sharpness"), DEEPEST))
    if g.shape[1] == 0:
        raise NotInSelection("reconstruction images")
    second = others(g, DEEPEST).apply(lambda col: col.nlargest(2).iloc[-1])
    rank = g.rank(ascending=False, method="min").loc[DEEPEST]
    return g.loc[DEEPEST] - second, (f"gradient energy of the reconstructions ÷ the originals': "
                                     f"deepest {per_seed(g.loc[DEEPEST], 2)}, rank "
                                     f"{joined(rank.astype(int))} of {len(g)} (seed "
                                     f"{joined(g.columns)} only: the cells keep that seed's images)")


def vanilla_blur_high(table: Any) -> tuple[Any, str]:
    e = need(recon(table, RUN_A), "vanilla", *ONE_HIDDEN_LAYER)
    one = e.loc[ONE_HIDDEN_LAYER].max()
    return e.loc["vanilla"] - one, (f"reconstruction error: vanilla {per_seed(e.loc['vanilla'], 2)}, "
                                    f"the blurriest one-layer model {per_seed(one, 2)}")


def depth_correlation(values: Any) -> Any:
    """Per seed: Pearson's correlation over the models between their hidden layers and
    ``values`` (architectures × seeds)."""
    others(values, values.index[0])             # a correlation needs several models
    layers = hidden_layers(values.index).astype(float)
    return values.apply(lambda col: float(np.corrcoef(layers, col.astype(float))[0, 1]))


def b_deeper_blurrier(table: Any) -> tuple[Any, str]:
    r = depth_correlation(recon(table, RUN_B))
    return r, f"correlation of hidden layers and reconstruction error {per_seed(r, 2)}"


def lead_over_worst_better(ranked: Any, values: Any, higher_is_better: bool) -> Any:
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


def bound_lifts_deepest(table: Any) -> tuple[Any, str]:
    elbo = need(by_seed(table, RUN_A, "test_elbo"), DEEPEST)
    iwae = by_seed(table, RUN_A, "test_iwae")
    by_e = elbo.rank(ascending=False, method="min").loc[DEEPEST]
    by_w = iwae.rank(ascending=False, method="min").loc[DEEPEST]
    return (lead_over_worst_better(elbo, iwae, higher_is_better=True),
            f"deepest's rank by ELBO {joined(by_e.astype(int))}, by IWAE "
            f"{joined(by_w.astype(int))}")


def elbo_not_enough(table: Any) -> tuple[Any, str]:
    iwae = by_seed(table, RUN_A, "test_iwae")
    fd = by_seed(table, RUN_A, "frechet_distance")
    others(iwae, iwae.index[0])                 # a rank correlation needs several models
    import pandas as pd

    rho = pd.Series({s: spearman(iwae[s], -fd[s]) for s in iwae.columns})
    return -rho, (f"rank correlation over the models of the IWAE bound and −Fréchet distance "
                  f"{per_seed(rho, 2)}; {THEIS}")


def orders_above(kl: Any) -> Any:
    """How many orders of magnitude a KL (nats) lies above the collapse threshold:
    log10(KL / 0.01). Collapse is a KL going to 0, a multiplicative matter: a dimension at 0.02
    and one at 2 nats are 0.3 and 2.3 orders above it."""
    return kl.astype(float).clip(lower=1e-12).map(math.log10) - math.log10(KL_THRESHOLD)


def no_collapse(arch: str) -> Callable[[Any, str], tuple[Any, str]]:
    """No collapsed dimension ⇔ the smallest dimension's KL is above the threshold: the margin
    is how many orders of magnitude above (:func:`orders_above`)."""
    def per_run(table: Any, run: str) -> tuple[Any, str]:
        kl = need(by_seed(table, run, "min_dim_kl"), arch).loc[arch]
        counts = ", ".join(f"KL < {t:g}: " + per_seed(
            by_seed(table, run, f"collapsed_kl_{t:g}").loc[arch], 0) for t in KL_THRESHOLDS)
        return orders_above(kl), f"smallest dimension's KL {per_seed(kl, 3)} nats; collapsed ({counts})"
    return per_run


def others_collapse(table: Any, run: str) -> tuple[Any, str]:
    """Each other model has a dimension below the threshold ⇔ the largest of their
    smallest-dimension KLs is below it (orders of magnitude, as :func:`no_collapse`)."""
    spared = {"vanilla", "deep-512"} | ({"deep-256"} if run == RUN_B else set())
    smallest = others(by_seed(table, run, "min_dim_kl"), *spared)
    counts = others(by_seed(table, run, f"collapsed_kl_{KL_THRESHOLD:g}"), *spared)
    return (-orders_above(smallest.max()),
            f"the other model whose smallest KL is largest: {joined(smallest.idxmax())} "
            f"({per_seed(smallest.max(), 3)} nats; fewest collapsed {per_seed(counts.min(), 0)})")


def deepest_most_collapsed(table: Any, run: str) -> tuple[Any, str]:
    c = by_seed(table, run, f"collapsed_kl_{KL_THRESHOLD:g}")
    sens = ", ".join(f"at {t:g}: " + per_seed(lead(by_seed(table, run, f"collapsed_kl_{t:g}"), DEEPEST), 0)
                     for t in KL_THRESHOLDS if t != KL_THRESHOLD)
    return lead(c, DEEPEST), f"deepest's lead at KL < 0.01 {per_seed(lead(c, DEEPEST), 0)} dims ({sens})"


def deepest_majority(table: Any) -> tuple[Any, str]:
    c = need(by_seed(table, RUN_B, f"collapsed_kl_{KL_THRESHOLD:g}"), DEEPEST).loc[DEEPEST]
    active = by_seed(table, RUN_B, "active_units").loc[DEEPEST]
    return c - 32.5, f"collapsed {per_seed(c, 0)} of 64, active units {per_seed(active, 0)}"


def deep256_no_collapse_b(table: Any) -> tuple[Any, str]:
    return no_collapse("deep-256")(table, RUN_B)


def deepest_samples(table: Any, run: str) -> tuple[Any, str]:
    fd = by_seed(table, run, "frechet_distance")
    mean = fd.mean(axis=1)
    return (lead(fd, DEEPEST, higher_is_better=False),
            f"lowest {mean.idxmin()} ({mean.min():.1f}), deepest {mean[DEEPEST]:.1f}")


def depth_and_samples(table: Any, run: str) -> tuple[Any, str]:
    r = depth_correlation(-by_seed(table, run, "frechet_distance"))
    return r, f"correlation of hidden layers and −FD {per_seed(r, 2)}"


def std_collapses(table: Any) -> tuple[Any, str]:
    """The seed-faithful batch-16 models: the most extreme log std (the encoder's along the
    seed's plain chain, or the decoder's σ) per seed, against where float32's exp breaks."""
    log_std = measured(by_seed(table, VARIANT_A, "seed_chain_log_std"))
    if log_std.shape[1] == 0:
        raise NotInSelection(f"{RUNS[VARIANT_A].short}'s seed-faithful chains")
    worst = log_std.max()
    return worst - EXP_BREAKS_AT, (f"{RUNS[VARIANT_A].short}: most extreme |log std| per seed "
                                   f"{per_seed(worst, 2)} (the encoder's along the chain or the "
                                   f"decoder's σ); exp(log std) reaches 0 or ∞ in float32 only "
                                   f"beyond ≈ {EXP_BREAKS_AT:g}")


def batch16_breaks_chain(table: Any) -> tuple[Any, str]:
    a = measured(by_seed(table, VARIANT_A, "seed_chain_broke"))
    b = measured(by_seed(table, VARIANT_B, "seed_chain_broke"))
    if a.shape[1] == 0 or b.shape[1] == 0:
        raise NotInSelection("the seed-faithful chains")
    seeds = [s for s in a.columns if s in b.columns]
    wa, wb = a.max()[seeds], b.max()[seeds]
    return ((wa - 0.5).combine(0.5 - wb, min),
            f"how badly the seed's chains break, worst model per seed (1: sampling failed; else "
            f"the share of final pixels ≥ 1 under the worst of the three chains): "
            f"{RUNS[VARIANT_A].short} {per_seed(wa, 2)}, {RUNS[VARIANT_B].short} {per_seed(wb, 2)}")


def retrained_steadier(table: Any) -> tuple[Any, str]:
    a = by_seed(table, RUN_A, "val_drops_first_fifth").mean()
    b = by_seed(table, RUN_B, "val_drops_first_fifth").mean()
    return TwoRuns(a, b), (f"epochs in the first fifth whose validation ELBO fell, mean over models: "
                           f"run A {per_seed(a)}, run B {per_seed(b)}")


def slows_after_fifth(table: Any) -> tuple[Any, str]:
    before = by_seed(table, RUN_B, "val_rate_before_fifth")
    after = by_seed(table, RUN_B, "val_rate_after_fifth")
    slowdown = 1 - after / before
    m = slowdown.min()
    return m, (f"smallest slowdown over the models (1 − gain per epoch in the second fifth ÷ in "
               f"the second tenth) {per_seed(m, 2)}")


def deepest_promising(table: Any) -> tuple[Any, str]:
    g = need(by_seed(table, RUN_B, "val_gain_last_tenth"), DEEPEST).loc[DEEPEST]
    return g, f"deepest's validation-ELBO gain over the last tenth {per_seed(g, 2)} nats"


#: The models whose chains the seed showed (run B): vanilla, the best-ELBO deep-256, the deepest.
SHOWN_CHAINS = ["vanilla", "deep-256", DEEPEST]


def vanilla_below_shown(column: str, what: str, rest: str,
                         digits: int) -> Callable[[Any], tuple[Any, str]]:
    """Run B: how far vanilla's ``column`` lies below the lower of the two other models whose
    chains the seed showed (:data:`SHOWN_CHAINS`)."""
    def margin(table: Any) -> tuple[Any, str]:
        c = need(by_seed(table, RUN_B, column), *SHOWN_CHAINS).loc[SHOWN_CHAINS]
        others_ = c.drop(index="vanilla").min()
        return others_ - c.loc["vanilla"], (f"{what}: vanilla {per_seed(c.loc['vanilla'], digits)}, "
                                            f"{rest} of deep-256 and the deepest "
                                            f"{per_seed(others_, digits)}")
    return margin


vanilla_chain_unclear = vanilla_below_shown("chain_confidence", "mean frame confidence",
                                              "the less clear", 2)
vanilla_chain_still = vanilla_below_shown("class_switches", "class changes per chain",
                                            "the stiller", 1)


def deepest_chain_clearest(table: Any) -> tuple[Any, str]:
    c = by_seed(table, RUN_B, "chain_confidence")
    return lead(c, DEEPEST), f"highest mean frame confidence: {joined(c.idxmax())}"


def deepest_chain_morphs(table: Any) -> tuple[Any, str]:
    morph = chain_fraction(table, RUN_B, "morphing_chains", DEEPEST)
    fade = chain_fraction(table, RUN_B, "fading_chains", DEEPEST)
    switches = chain_fraction(table, RUN_B, "class_switches", DEEPEST)
    return morph - 0.05, (f"share of chains that morph (a class change between digit-like "
                          f"frames) {per_seed(morph, 2)}, that fade {per_seed(fade, 2)}; "
                          f"class changes per chain {per_seed(switches)}")
