"""The seed's claims and the rules that judge them, as plain functions of the metrics table.

The table is ``report.metrics_table``'s: indexed by (run, seed, arch), one column per judged
number. Every claim is tested on every seed of the run(s) it is about, through a **margin**: a
number per seed that is > 0 when the claim holds in that seed and < 0 when its opposite holds
(e.g. deep-512's test ELBO minus the best other model's, in nats). The rule
(:func:`margin_verdict`):

* *reproduced* — the margin is > 0 in every seed **and** its mean exceeds
  :data:`NOISE_FACTOR` (2) standard deviations of the per-seed margins (the seed-to-seed noise of
  that very comparison, paired within each seed);
* *not reproduced* — the margin is < 0 in every seed and its mean is below −2 sd;
* *unclear* — anything else, and always with one seed (no noise to compare against).

A claim that is a yes/no per seed (a chain that became NaN) uses :func:`across_seeds`: every
seed, none, or some. A claim about both runs combines the runs' verdicts with :func:`all_of` (it
fails if it fails in one run). Each judged claim carries its margin as "mean ± sd" so a reader
sees how close it was.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

REPRODUCED, NOT_REPRODUCED, UNCLEAR = "reproduced", "not reproduced", "unclear"
VERDICTS: tuple[str, ...] = (REPRODUCED, NOT_REPRODUCED, UNCLEAR)

#: A margin counts when its mean is beyond this many standard deviations of the per-seed margins.
NOISE_FACTOR = 2.0
#: The KL thresholds (nats) below which a latent dimension counts as collapsed: the seed's 0.01
#: and a factor 2 either side, so that "most collapsed" does not hang on one cut.
KL_THRESHOLDS: tuple[float, ...] = (0.005, 0.01, 0.02)

RUN_A, RUN_B = "original", "retrained"
SHORT = {RUN_A: "run A", RUN_B: "run B"}
DEEPEST = "deep-512-256-128"
ONE_HIDDEN_LAYER = ["deep-128", "deep-256", "deep-512"]
THEIS = "likelihood and sample quality can disagree (Theis, van den Oord & Bethge, ICLR 2016)"


@dataclass
class Claim:
    """A claim of the seed, the evidence this study gives for it, its margin and the verdict."""

    claim: str
    evidence: str
    verdict: str
    margin: str = ""


# --------------------------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------------------------

def margin_verdict(margins: Sequence[float], noise_factor: float = NOISE_FACTOR) -> str:
    """The verdict of per-seed margins (> 0: the claim holds in that seed); see the module."""
    m = [float(x) for x in margins]
    if not m:
        raise ValueError("a claim needs at least one seed to be judged")
    if len(m) < 2 or any(math.isnan(x) for x in m):
        return UNCLEAR
    mean = sum(m) / len(m)
    sd = math.sqrt(sum((x - mean) ** 2 for x in m) / (len(m) - 1))
    if all(x > 0 for x in m) and mean > noise_factor * sd:
        return REPRODUCED
    if all(x < 0 for x in m) and -mean > noise_factor * sd:
        return NOT_REPRODUCED
    return UNCLEAR


def margin_text(margins: Sequence[float], unit: str, digits: int = 1) -> str:
    """``+3.3 ± 4.1 nats`` (mean ± sd over seeds), or ``+3.3 nats (one seed)``."""
    m = [float(x) for x in margins]
    mean = sum(m) / len(m)
    unit = f" {unit}" if unit else ""
    if len(m) < 2:
        return f"{mean:+.{digits}f}{unit} (one seed)"
    sd = math.sqrt(sum((x - mean) ** 2 for x in m) / (len(m) - 1))
    return f"{mean:+.{digits}f} ± {sd:.{digits}f}{unit}"


def across_seeds(hits: Iterable[bool]) -> str:
    """A yes/no claim tested on several seeds: reproduced in all, in none, or in some (unclear)."""
    hits = [bool(h) for h in hits]
    if not hits:
        raise ValueError("a claim needs at least one seed to be judged")
    return REPRODUCED if all(hits) else NOT_REPRODUCED if not any(hits) else UNCLEAR


def all_of(verdicts: Iterable[str]) -> str:
    """A claim about both runs: reproduced when it is reproduced in each, not reproduced when it
    fails in one, unclear otherwise."""
    verdicts = list(verdicts)
    if NOT_REPRODUCED in verdicts:
        return NOT_REPRODUCED
    return REPRODUCED if all(x == REPRODUCED for x in verdicts) else UNCLEAR


# --------------------------------------------------------------------------------------------
# Reading the table
# --------------------------------------------------------------------------------------------

def by_seed(table: Any, run: str, column: str) -> Any:
    """``column`` of ``run`` as a DataFrame, architectures × seeds (in the table's order)."""
    frame = table.loc[run, column].unstack("seed")
    archs = list(dict.fromkeys(table.loc[run].index.get_level_values("arch")))
    return frame.loc[archs]


def _runs(table: Any) -> list[str]:
    return list(dict.fromkeys(table.index.get_level_values("run")))


def _require(table: Any, *archs: str, runs: Sequence[str] = ()) -> None:
    """A KeyError naming what a claim needs that the table lacks (a study run on a selection):
    :func:`evaluate_claims` then calls the claim unmeasured."""
    present = set(table.index.get_level_values("arch"))
    missing = [a for a in archs if a not in present]
    missing += [SHORT.get(r, r) for r in runs if r not in _runs(table)]
    if missing:
        raise KeyError(", ".join(missing))


def lead_over_others(values: Any, arch: str, higher_is_better: bool = True) -> Any:
    """Per seed: how far ``arch`` is ahead of the best other architecture (architectures ×
    seeds frame in, one number per seed out; > 0 when ``arch`` is the best)."""
    others = values.drop(index=arch)
    if higher_is_better:
        return values.loc[arch] - others.max()
    return others.min() - values.loc[arch]


def rank_of(values: Any, arch: str, higher_is_better: bool = True) -> Any:
    """Per seed: ``arch``'s rank among the architectures (1 = best; ties share the best rank)."""
    return values.rank(ascending=not higher_is_better, method="min").loc[arch]


def _seeds_text(margins: Sequence[float], digits: int = 1) -> str:
    return " / ".join(f"{float(x):+.{digits}f}" for x in margins)


def _names(names: Any) -> str:
    """``deep-256`` for one seed, ``deep-256 / deep-512 / deep-256`` for three."""
    return " / ".join(str(v) for v in names)


def _one_run(claim: str, evidence: str, margins: Any, unit: str, digits: int = 1) -> Claim:
    margins = [float(x) for x in margins]
    return Claim(claim, f"{evidence}; margin per seed {_seeds_text(margins, digits)}"
                 + (f" {unit}" if unit else ""),
                 margin_verdict(margins), margin_text(margins, unit, digits))


def _both_runs(claim: str, evidence: str, margins: dict[str, Any], unit: str,
               digits: int = 1) -> Claim:
    per_run = {r: [float(x) for x in m] for r, m in margins.items()}
    text = "; ".join(f"{SHORT.get(r, r)} {margin_text(m, unit, digits)}" for r, m in per_run.items())
    return Claim(claim, evidence, all_of(margin_verdict(m) for m in per_run.values()), text)


# --------------------------------------------------------------------------------------------
# The claims
# --------------------------------------------------------------------------------------------

def run_a_deep512_highest_elbo(table: Any) -> Claim:
    _require(table, "deep-512", runs=[RUN_A])
    elbo = by_seed(table, RUN_A, "test_elbo")
    return _one_run("Run A: deep-512 has the highest test ELBO",
                    f"highest: {_names(elbo.idxmax())}; margin = deep-512 − best other",
                    lead_over_others(elbo, "deep-512"), "nats")


def run_a_wider_is_better(table: Any) -> Claim:
    _require(table, *ONE_HIDDEN_LAYER, runs=[RUN_A])
    elbo = by_seed(table, RUN_A, "test_elbo").loc[ONE_HIDDEN_LAYER]
    steps = elbo.diff().iloc[1:]                      # 256 − 128, 512 − 256, per seed
    evidence = ", ".join(f"{a} " + "/".join(f"{v:.0f}" for v in elbo.loc[a]) for a in ONE_HIDDEN_LAYER)
    return _one_run("Run A: among one-hidden-layer models, more units give a higher ELBO",
                    evidence + "; margin = the smaller of the two steps up", steps.min(), "nats")


def run_a_deepest_lowest_elbo(table: Any) -> Claim:
    _require(table, DEEPEST, runs=[RUN_A])
    elbo = by_seed(table, RUN_A, "test_elbo")
    return _one_run("Run A: the deepest model has the lowest test ELBO",
                    f"lowest: {_names(elbo.idxmin())}; margin = worst other − deepest",
                    lead_over_others(elbo, DEEPEST, higher_is_better=False), "nats")


def run_b_deep256_highest_elbo(table: Any) -> Claim:
    _require(table, "deep-256", runs=[RUN_B])
    elbo = by_seed(table, RUN_B, "test_elbo")
    return _one_run("Run B: deep-256 has the highest test ELBO",
                    f"highest: {_names(elbo.idxmax())}; margin = deep-256 − best other",
                    lead_over_others(elbo, "deep-256"), "nats")


def elbo_vs_iwae(table: Any, run: str) -> dict[str, Any]:
    """How the ELBO and the importance-weighted bound rank ``run``'s models (seed means): the
    best by each, their Spearman rank correlation, and the largest IWAE − ELBO gap."""
    e = by_seed(table, run, "test_elbo").mean(axis=1)
    w = by_seed(table, run, "test_iwae").mean(axis=1)
    return {"best by ELBO": e.idxmax(), "best by IWAE": w.idxmax(),
            "rank correlation (Spearman)": float(e.rank().corr(w.rank())),
            "largest IWAE − ELBO (nats)": float((w - e).max()), "model with it": (w - e).idxmax()}


def tighter_bound_lifts_deepest(table: Any) -> Claim:
    """The seed's suspicion (a): the deepest model looks worst because only a lower bound was
    optimised and compared; the tighter importance-weighted bound should then lift its rank."""
    _require(table, DEEPEST)
    margins, parts = {}, []
    for r in _runs(table):
        by_elbo = rank_of(by_seed(table, r, "test_elbo"), DEEPEST)
        by_iwae = rank_of(by_seed(table, r, "test_iwae"), DEEPEST)
        margins[r] = by_elbo - by_iwae - 0.5        # lifted by at least one rank: > 0
        parts.append(f"{SHORT.get(r, r)}: rank by ELBO {_names(by_elbo.astype(int))}, by IWAE "
                     f"{_names(by_iwae.astype(int))} (rank correlation of the two bounds "
                     f"{elbo_vs_iwae(table, r)['rank correlation (Spearman)']:.2f})")
    return _both_runs("(a) The lower bound hides the deepest model's likelihood (here: the "
                      "tighter IWAE bound lifts its rank; both runs)",
                      "; ".join(parts) + "; margin = rank by ELBO − rank by IWAE − ½ (> 0: "
                      "lifted by at least one rank)",
                      margins, "ranks", digits=1)


def likelihood_and_quality_disagree(table: Any) -> Claim:
    """The seed's suspicion (b): the deepest model's samples rank better than its likelihood."""
    _require(table, DEEPEST)
    margins, parts = {}, []
    for r in _runs(table):
        iwae, fd = by_seed(table, r, "test_iwae"), by_seed(table, r, "frechet_distance")
        by_lik = rank_of(iwae, DEEPEST)
        by_quality = rank_of(fd, DEEPEST, higher_is_better=False)
        margins[r] = by_lik - by_quality - 0.5      # at least one rank better by quality
        rho = sum(float(iwae[s].rank().corr((-fd[s]).rank())) for s in iwae.columns) / iwae.shape[1]
        parts.append(f"{SHORT.get(r, r)}: deepest ranks {_names(by_lik.astype(int))} by "
                     f"likelihood (IWAE), {_names(by_quality.astype(int))} by Fréchet distance; "
                     f"rank correlation of likelihood and sample quality over the models {rho:.2f}")
    return _both_runs("(b) Likelihood and sample quality rank the deepest model differently "
                      "(here: better by Fréchet distance than by IWAE; both runs)",
                      "; ".join(parts) + f"; margin = rank by IWAE − rank by Fréchet distance − ½ "
                      f"(> 0: at least one rank better by sample quality); {THEIS}",
                      margins, "ranks", digits=1)


def _collapsed_at(table: Any, run: str, threshold: float) -> Any:
    return by_seed(table, run, f"collapsed_kl_{threshold:g}")


def _collapse_counts(table: Any, arch: str) -> str:
    return "; ".join(
        f"{SHORT.get(r, r)}: " + ", ".join(
            f"KL < {t:g}: " + "/".join(str(int(v)) for v in _collapsed_at(table, r, t).loc[arch])
            for t in KL_THRESHOLDS)
        for r in _runs(table))


def no_collapsed_dimensions(arch: str) -> Callable[[Any], Claim]:
    def rule(table: Any) -> Claim:
        _require(table, arch)
        margins = {r: by_seed(table, r, "min_dim_kl").loc[arch] - 0.01 for r in _runs(table)}
        name = arch.capitalize() if arch == "vanilla" else arch
        return _both_runs(f"{name} has no collapsed dimensions (both runs; KL < 0.01)",
                          f"collapsed dimensions of 64, {_collapse_counts(table, arch)}; margin = "
                          f"smallest dimension's KL − 0.01", margins, "nats", digits=3)
    rule.__name__ = f"no_collapsed_dimensions_{arch}"
    return rule


def deepest_most_collapsed(table: Any) -> Claim:
    """Robust to the threshold: the margin is the deepest model's lead in collapsed dimensions
    over the next model at the least favourable of :data:`KL_THRESHOLDS`."""
    _require(table, DEEPEST)
    margins, parts = {}, []
    for r in _runs(table):
        leads = [lead_over_others(_collapsed_at(table, r, t), DEEPEST) for t in KL_THRESHOLDS]
        margins[r] = leads[0].combine(leads[1], min).combine(leads[2], min)
        parts.append(f"{SHORT.get(r, r)}: most at KL < 0.01 in "
                     f"{_names(_collapsed_at(table, r, 0.01).idxmax())}")
    return _both_runs("The deepest model has the most collapsed dimensions (both runs)",
                      "; ".join(parts) + f"; deepest {_collapse_counts(table, DEEPEST)}; margin = "
                      f"its lead over the next model, the smallest over KL thresholds "
                      f"{', '.join(f'{t:g}' for t in KL_THRESHOLDS)}", margins, "dims", digits=1)


def run_b_deepest_mostly_collapsed(table: Any) -> Claim:
    _require(table, DEEPEST, runs=[RUN_B])
    fewest = [_collapsed_at(table, RUN_B, t).loc[DEEPEST] for t in KL_THRESHOLDS]
    margins = fewest[0].combine(fewest[1], min).combine(fewest[2], min) - 32.5   # > 32: > 0
    active = by_seed(table, RUN_B, "active_units").loc[DEEPEST]
    return _one_run("Run B: in the deepest model most dimensions collapse (> 32 of 64)",
                    ", ".join(f"KL < {t:g}: " + "/".join(str(int(v)) for v in c)
                              for t, c in zip(KL_THRESHOLDS, fewest))
                    + " of 64; " + "/".join(str(int(v)) for v in active) + " active units; "
                    "margin = collapsed at the least favourable threshold − 32½",
                    margins, "dims", digits=1)


def validation_follows_training(table: Any, tolerance: float = 0.02) -> Claim:
    margins = {r: 100 * (tolerance - by_seed(table, r, "final_gap").max()) for r in _runs(table)}
    evidence = ", ".join(f"{SHORT.get(r, r)}: largest final gap "
                         f"{100 * by_seed(table, r, 'final_gap').max().max():.1f} % of the ELBO"
                         for r in _runs(table))
    return _both_runs(f"Validation follows training exactly (all models; here: final gap < "
                      f"{100 * tolerance:.0f} % of the ELBO)",
                      evidence + f"; margin = {100 * tolerance:.0f} % − the largest gap",
                      margins, "% points", digits=2)


def batch16_breaks_the_chain(table: Any) -> Claim:
    _require(table, runs=[RUN_A, RUN_B])
    finite = {r: by_seed(table, r, "chain_finite").all() for r in (RUN_A, RUN_B)}   # per seed
    hits = {RUN_A: [not f for f in finite[RUN_A]], RUN_B: [bool(f) for f in finite[RUN_B]]}
    evidence = ", ".join(
        f"{SHORT[r]}: {'all finite' if finite[r].all() else 'non-finite states'}, up to "
        f"{100 * by_seed(table, r, 'final_saturated').max().max():.0f} % of final pixels ≥ 1"
        for r in (RUN_A, RUN_B))
    margin = "; ".join(f"{SHORT[r]}: holds in {sum(h)} of {len(h)} seeds" for r, h in hits.items())
    return Claim("Batch 16 (run A) breaks the limiting chain, batch 64 (run B) does not "
                 "(here: a NaN/∞ state)", evidence,
                 all_of(across_seeds(h) for h in hits.values()), margin)


def deepest_samples_most_digit_like(table: Any) -> Claim:
    _require(table, DEEPEST)
    margins, parts = {}, []
    for r in _runs(table):
        fd = by_seed(table, r, "frechet_distance")
        margins[r] = lead_over_others(fd, DEEPEST, higher_is_better=False)
        mean = fd.mean(axis=1)
        parts.append(f"{SHORT.get(r, r)}: lowest {mean.idxmin()} ({mean.min():.1f}), deepest "
                     f"{mean[DEEPEST]:.1f}")
    return _both_runs("The deepest model's samples look most like digits (here: lowest "
                      "Fréchet distance; both runs)",
                      ", ".join(parts) + "; margin = best other − deepest", margins, "", digits=2)


def run_b_deepest_chain_clearest(table: Any) -> Claim:
    _require(table, DEEPEST, "vanilla", runs=[RUN_B])
    conf = by_seed(table, RUN_B, "chain_confidence")
    mean = conf.mean(axis=1)
    return _one_run("Run B: the deepest model's chain shows digits most clearly (here: highest "
                    "mean frame confidence)",
                    f"highest: {_names(conf.idxmax())}; mean over seeds: deepest "
                    f"{mean[DEEPEST]:.2f}, vanilla {mean['vanilla']:.2f}; margin = deepest − best "
                    f"other", lead_over_others(conf, DEEPEST), "", digits=3)


def run_b_deepest_chain_morphs(table: Any) -> Claim:
    _require(table, DEEPEST, runs=[RUN_B])
    switches = by_seed(table, RUN_B, "class_switches").loc[DEEPEST]
    return _one_run("Run B: the deepest model's chain morphs between digits (here: more than one "
                    "class change per chain)",
                    "/".join(f"{v:.1f}" for v in switches) + " class changes per chain; margin = "
                    "class changes per chain − 1", switches - 1, "per chain", digits=2)


#: Every claim of the seed the report judges, in the report's order.
CLAIMS: list[Callable[[Any], Claim]] = [
    run_a_deep512_highest_elbo, run_a_wider_is_better, run_a_deepest_lowest_elbo,
    run_b_deep256_highest_elbo, tighter_bound_lifts_deepest, likelihood_and_quality_disagree,
    no_collapsed_dimensions("vanilla"), no_collapsed_dimensions("deep-512"),
    deepest_most_collapsed, run_b_deepest_mostly_collapsed, validation_follows_training,
    batch16_breaks_the_chain, deepest_samples_most_digit_like, run_b_deepest_chain_clearest,
    run_b_deepest_chain_morphs,
]

#: How the report states the rule, next to the table.
RULE = (f"Each claim is judged on every seed through a margin that is > 0 when it holds in that "
        f"seed: *reproduced* when the margin is > 0 in every seed and its mean exceeds "
        f"{NOISE_FACTOR:g} standard deviations of the per-seed margins, *not reproduced* when it "
        f"is < 0 in every seed and its mean is below −{NOISE_FACTOR:g} sd, *unclear* otherwise "
        f"(and always with a single seed). A claim about both runs must hold in each.")


def evaluate_claims(table: Any) -> Any:
    """Every claim of :data:`CLAIMS` judged on ``table``: a DataFrame with the columns
    ``claim (seed)``, ``this run``, ``margin (mean ± sd)`` and ``verdict``."""
    import pandas as pd

    judged = []
    for rule in CLAIMS:
        try:
            judged.append(rule(table))
        except KeyError as missing:          # a run or an architecture this claim names
            judged.append(Claim(rule.__name__.replace("_", " "),
                                f"not measured: {missing} is not in this study's selection",
                                UNCLEAR, "—"))
    return pd.DataFrame([(c.claim, c.evidence, c.margin, c.verdict) for c in judged],
                        columns=["claim (seed)", "this run", "margin (mean ± sd)", "verdict"])
