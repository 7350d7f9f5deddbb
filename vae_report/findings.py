"""What the study found, in plain words: the report's first screen, computed from the judged
claims and the metrics table (no number in it is typed by hand), and the sentences the report
writes about the seed's table and the σ floors."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import vae_core

from .params import RUNS
from .seed_reference import SEED_TEST_ELBO
from .stats import ALPHA, NOT_REPRODUCED, REPRODUCED, UNCLEAR
from .verdicts import EXP_BREAKS_AT, VARIANT_A, VARIANT_B, Judged, by_seed, main_runs


def _mean_by_arch(table: Any, run: str, column: str) -> Any:
    return by_seed(table, run, column).mean(axis=1)


def seed_rank_agreement(table: Any, run: str) -> float:
    """Spearman correlation between our mean test ELBO per architecture and the seed's Table 3
    (run A) or 4 (run B), over the architectures both have."""
    ours = _mean_by_arch(table, run, "test_elbo")
    seed = {a: v for a, v in SEED_TEST_ELBO.get(run, {}).items() if a in ours.index}
    if len(seed) < 3:
        return math.nan
    import pandas as pd

    theirs = pd.Series(seed)
    return float(ours.loc[theirs.index].rank().corr(theirs.rank()))


def tally(judged: Sequence[Judged]) -> str:
    """``Of the seed's 30 checkable claims, 12 are reproduced, …``."""
    measured = [j for j in judged if j.test is not None]
    count = {v: sum(j.verdict == v for j in measured) for v in (REPRODUCED, NOT_REPRODUCED, UNCLEAR)}
    seeds = sorted({j.test.n for j in measured})
    text = (f"Of the seed's {len(judged)} checkable claims, **{count[REPRODUCED]} are reproduced, "
            f"{count[NOT_REPRODUCED]} are not and {count[UNCLEAR]} are unclear** (a t-interval "
            f"over {' or '.join(map(str, seeds))} training seeds per claim, Holm-adjusted across "
            f"the claims at α = {ALPHA:g})")
    missing = len(judged) - len(measured)
    return text + (f"; {missing} could not be measured in this study." if missing else ".")


def best_models(table: Any) -> str:
    """Which model has the highest mean test ELBO in each main run, beside the seed's choice."""
    parts = []
    for run in main_runs(table):
        elbo = _mean_by_arch(table, run, "test_elbo")
        seed = SEED_TEST_ELBO.get(run, {})
        seed_best = max(seed, key=seed.get) if seed else "—"
        rho = seed_rank_agreement(table, run)
        parts.append(f"{RUNS[run].short}: **{elbo.idxmax()}** ({elbo.max():.0f} nats; the seed's "
                     f"{seed_best}), rank agreement with the seed's table {rho:.2f}")
    return "Highest test ELBO — " + "; ".join(parts) + "." if parts else ""


def not_reproduced(judged: Sequence[Judged]) -> str:
    names = [j.claim.claim for j in judged if j.verdict == NOT_REPRODUCED]
    return ("Contradicted by this study: " + "; ".join(names) + ".") if names else \
        "No claim of the seed is contradicted by this study."


def chain_mechanism(judged: Sequence[Judged], table: Any) -> str:
    """What the seed-faithful variant says about the seed's broken chain."""
    by_key = {j.claim.key: j for j in judged}
    sigma, chain = by_key.get("sigma_collapses"), by_key.get("batch16_breaks_chain")
    if sigma is None or sigma.test is None or chain is None or chain.test is None:
        return ("The seed-faithful runs (σ = exp(log σ)) are not in this study, so the seed's "
                "explanation of its broken chain is not tested here.")
    parts, largest = [], 0.0
    for run in (VARIANT_A, VARIANT_B):
        log_sigma = by_seed(table, run, "decoder_std").stack().map(math.log)
        largest = max(largest, float(log_sigma.abs().max()))
        sat = by_seed(table, run, "final_saturated").max().max()
        parts.append(f"{RUNS[run].short} log σ {log_sigma.min():.2f} … {log_sigma.max():.2f}, "
                     f"at most {100 * sat:.0f} % of final chain pixels ≥ 1")
    where = (f"{EXP_BREAKS_AT - largest:.1f} short of" if largest < EXP_BREAKS_AT
             else f"{largest - EXP_BREAKS_AT:.1f} beyond")
    return (f"With the seed's own σ = exp(log σ) and no floor ({'; '.join(parts)}), the largest "
            f"|log σ| is {largest:.2f}, {where} |log σ| ≈ {EXP_BREAKS_AT:g}, where exp leaves "
            f"float32's range: the seed's mechanism is *{sigma.verdict}* and its broken chain at "
            f"batch 16 *{chain.verdict}*.")


def _agreement(rho: float) -> str:
    return ("they disagree" if rho < 0 else "they partly agree" if rho < 0.7
            else "they agree")


def samples_vs_likelihood(table: Any) -> str:
    parts = []
    for run in main_runs(table):
        iwae = _mean_by_arch(table, run, "test_iwae")
        fd = _mean_by_arch(table, run, "frechet_distance")
        rho = float(iwae.rank().corr((-fd).rank()))
        parts.append(f"{RUNS[run].short} {rho:.2f} ({_agreement(rho)}; best samples "
                     f"{fd.idxmin()}, best likelihood {iwae.idxmax()})")
    return ("Likelihood and sample quality — rank correlation over the models of the IWAE bound "
            "and −Fréchet distance: " + "; ".join(parts) + ".") if parts else ""


def first_screen(judged: Sequence[Judged], table: Any) -> list[str]:
    """The report's findings, 4–5 sentences, most important first."""
    return [s for s in (tally(judged), best_models(table), not_reproduced(judged),
                        chain_mechanism(judged, table), samples_vs_likelihood(table)) if s]


def sigma_floor_note(sigmas: Mapping[str, float]) -> str:
    """What the floors mean for the learned σ of the models (architecture → σ)."""
    lo, hi = min(sigmas.values()), max(sigmas.values())
    floor = vae_core.DECODER_STD_FLOOR
    binds = ("the floors never bind in this study, so the continuous likelihoods are those of the "
             "learned σ" if lo >= 10 * floor else
             f"σ comes within {lo / floor:.1f} × of its floor, so there the continuous likelihood "
             "depends on the floor")
    return (f"The learned decoder σ lies between {lo:.3f} and {hi:.3f}, {lo / floor:.0f}–"
            f"{hi / floor:.0f} × the decoder's floor ({floor:g}; the encoder's is "
            f"{vae_core.ENCODER_STD_FLOOR:g}): {binds}. A Gaussian density on [0, 1] pixels "
            f"grows as σ shrinks (Mattei & Frellsen, NeurIPS 2018), which is why the bounded "
            f"8-bit likelihood is given beside it.")


def classifier_note(classifier: Mapping[str, Any]) -> str:
    """What the digit classifier that judges samples and chains achieved (``classifier.json``)."""
    text = (f"The classifier reaches **{100 * classifier['test_accuracy']:.2f} %** test accuracy "
            f"on {classifier['test_images']} test images after {classifier['config']['epochs']} "
            f"epochs ({'cached weights' if classifier['cached'] else 'trained in this run'}; the "
            f"study asks ≥ 99 %). Two sets of real digits — {classifier['reference_images']} "
            f"validation images against the test images — are "
            f"{classifier['reference_frechet_distance']:.2f} apart: the floor of the distances "
            "below.")
    if classifier["test_accuracy"] < 0.99:
        text += "\n\n> The classifier is below 99 % here, so its verdicts on samples are rough."
    return text
