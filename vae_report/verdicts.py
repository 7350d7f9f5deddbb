"""The seed's claims and the rules that judge them, as plain functions of the metrics table.

The table is ``report.metrics_table``'s: indexed by (run, seed, arch), one column per judged
number. Every claim is tested on every seed of the run(s) it is about. :func:`across_seeds` turns one
run's per-seed outcomes into a verdict: *reproduced* when the claim holds in every seed, *not
reproduced* when it holds in none, *unclear* when the seeds disagree. A claim about both runs
combines the runs' verdicts with :func:`all_of` (it fails if it fails in one run), a claim that
one run suffices to show with :func:`any_of`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

REPRODUCED, NOT_REPRODUCED, UNCLEAR = "reproduced", "not reproduced", "unclear"
VERDICTS: tuple[str, ...] = (REPRODUCED, NOT_REPRODUCED, UNCLEAR)

RUN_A, RUN_B = "original", "retrained"
SHORT = {RUN_A: "run A", RUN_B: "run B"}
DEEPEST = "deep-512-256-128"
ONE_HIDDEN_LAYER = ["deep-128", "deep-256", "deep-512"]


@dataclass
class Claim:
    """A claim of the seed, the evidence this study gives for it, and the verdict."""

    claim: str
    evidence: str
    verdict: str


def across_seeds(hits: Iterable[bool]) -> str:
    """A claim tested on several seeds: reproduced in all, in none, or in some (unclear)."""
    hits = [bool(h) for h in hits]
    if not hits:
        raise ValueError("a claim needs at least one seed to be judged")
    return REPRODUCED if all(hits) else NOT_REPRODUCED if not any(hits) else UNCLEAR


def holds_in(hits: Iterable[bool]) -> str:
    """`` (holds in 2 of 3 seeds)`` when there is more than one seed, else nothing."""
    hits = [bool(h) for h in hits]
    return f" (holds in {sum(hits)} of {len(hits)} seeds)" if len(hits) > 1 else ""


def by_seed(table: Any, run: str, column: str) -> Any:
    """``column`` of ``run`` as a DataFrame, architectures × seeds (in the table's order)."""
    frame = table.loc[run, column].unstack("seed")
    archs = list(dict.fromkeys(table.loc[run].index.get_level_values("arch")))
    return frame.loc[archs]


def _require(table: Any, *archs: str) -> None:
    """A KeyError naming the architectures a claim needs that the table lacks (a study run on a
    selection of architectures): :func:`evaluate_claims` then calls the claim unmeasured."""
    present = set(table.index.get_level_values("arch"))
    missing = [a for a in archs if a not in present]
    if missing:
        raise KeyError(", ".join(missing))


def _judge(claim: str, evidence: str, hits: list[bool]) -> Claim:
    return Claim(claim, evidence + holds_in(hits), across_seeds(hits))


def _per_seed_names(names: Any) -> str:
    """``deep-256`` for one seed, ``deep-256 / deep-512 / deep-256`` for three."""
    return " / ".join(str(v) for v in names)


# --------------------------------------------------------------------------------------------
# The claims
# --------------------------------------------------------------------------------------------

def run_a_deep512_highest_elbo(table: Any) -> Claim:
    _require(table, "deep-512")
    elbo = by_seed(table, RUN_A, "test_elbo")
    best = elbo.idxmax()
    return _judge("Run A: deep-512 has the highest test ELBO",
                  f"highest: {_per_seed_names(best)}", list(best == "deep-512"))


def run_a_wider_is_better(table: Any) -> Claim:
    _require(table, *ONE_HIDDEN_LAYER)
    elbo = by_seed(table, RUN_A, "test_elbo").loc[ONE_HIDDEN_LAYER]
    hits = [elbo[s].is_monotonic_increasing for s in elbo.columns]
    evidence = ", ".join(f"{a} " + "/".join(f"{v:.0f}" for v in elbo.loc[a]) for a in ONE_HIDDEN_LAYER)
    return _judge("Run A: among one-hidden-layer models, more units give a higher ELBO",
                  evidence, hits)


def run_a_deepest_lowest_elbo(table: Any) -> Claim:
    _require(table, DEEPEST)
    worst = by_seed(table, RUN_A, "test_elbo").idxmin()
    return _judge("Run A: the deepest model has the lowest test ELBO",
                  f"lowest: {_per_seed_names(worst)}", list(worst == DEEPEST))


def run_b_deep256_highest_elbo(table: Any) -> Claim:
    _require(table, "deep-256")
    elbo = by_seed(table, RUN_B, "test_elbo")
    best = elbo.idxmax()
    return _judge("Run B: deep-256 has the highest test ELBO",
                  f"highest: {elbo.mean(axis=1).idxmax()} on average; per seed: "
                  + ", ".join(best), list(best == "deep-256"))


def elbo_vs_iwae(table: Any, run: str) -> dict[str, Any]:
    """How the ELBO and the importance-weighted bound rank ``run``'s models (seed means): the
    best by each, their Spearman rank correlation, and the largest IWAE − ELBO gap."""
    e = by_seed(table, run, "test_elbo").mean(axis=1)
    w = by_seed(table, run, "test_iwae").mean(axis=1)
    return {"best by ELBO": e.idxmax(), "best by IWAE": w.idxmax(),
            "rank correlation (Spearman)": float(e.rank().corr(w.rank())),
            "largest IWAE − ELBO (nats)": float((w - e).max()), "model with it": (w - e).idxmax()}


def elbo_ranking_misleads(table: Any) -> Claim:
    runs = _runs(table)
    hits = {}
    for run in runs:
        e, w = by_seed(table, run, "test_elbo"), by_seed(table, run, "test_iwae")
        hits[run] = list(e.idxmax() != w.idxmax())
    evidence = "; ".join(
        f"{SHORT.get(r, r)}: rank correlation ELBO vs IWAE {s['rank correlation (Spearman)']:.2f}, "
        f"best {s['best by ELBO']} vs {s['best by IWAE']}"
        for r, s in ((r, elbo_vs_iwae(table, r)) for r in runs))
    return _judge_runs("The ELBO ranking misleads (the seed's suspicion: it optimised a lower "
                       "bound; here: the tighter bound picks another best model in a run)",
                       evidence, hits, combine=any_of)


def all_of(verdicts: Iterable[str]) -> str:
    """A claim about both runs: reproduced when it is reproduced in each, not reproduced when it
    fails in one, unclear otherwise."""
    verdicts = list(verdicts)
    if NOT_REPRODUCED in verdicts:
        return NOT_REPRODUCED
    return REPRODUCED if all(x == REPRODUCED for x in verdicts) else UNCLEAR


def any_of(verdicts: Iterable[str]) -> str:
    """A claim that one run suffices to show: reproduced when it is reproduced in one run, not
    reproduced when it fails in every run, unclear otherwise."""
    verdicts = list(verdicts)
    if REPRODUCED in verdicts:
        return REPRODUCED
    return NOT_REPRODUCED if all(x == NOT_REPRODUCED for x in verdicts) else UNCLEAR


def _runs(table: Any) -> list[str]:
    return list(dict.fromkeys(table.index.get_level_values("run")))


def _per_run(table: Any, column: str, hit: Callable[[Any], bool]) -> dict[str, list[bool]]:
    """``hit(architectures-series)`` for every seed of every run of the table."""
    out = {}
    for run in _runs(table):
        frame = by_seed(table, run, column)
        out[run] = [bool(hit(frame[s])) for s in frame.columns]
    return out


def _judge_runs(claim: str, evidence: str, hits: dict[str, list[bool]],
                combine: Callable[[Iterable[str]], str] = all_of) -> Claim:
    notes = "".join(f"; {SHORT.get(r, r)}{holds_in(h)}" for r, h in hits.items() if len(h) > 1)
    return Claim(claim, evidence + notes, combine(across_seeds(h) for h in hits.values()))


def _collapsed_evidence(table: Any, arch: str) -> str:
    return ", ".join(f"{SHORT.get(r, r)}: " + "/".join(str(int(v)) for v in
                                                       by_seed(table, r, "collapsed").loc[arch])
                     for r in _runs(table)) + " of 64 with KL < 0.01"


def no_collapsed_dimensions(arch: str) -> Callable[[Any], Claim]:
    def rule(table: Any) -> Claim:
        _require(table, arch)
        hits = _per_run(table, "collapsed", lambda col: col[arch] == 0)
        return _judge_runs(f"{arch.capitalize() if arch == 'vanilla' else arch} has no collapsed "
                      f"dimensions (both runs)", _collapsed_evidence(table, arch), hits)
    rule.__name__ = f"no_collapsed_dimensions_{arch}"
    return rule


def deepest_most_collapsed(table: Any) -> Claim:
    _require(table, DEEPEST)
    hits = _per_run(table, "collapsed", lambda col: col[DEEPEST] == col.max())
    evidence = ", ".join(f"{SHORT.get(r, r)}: most in "
                         + _per_seed_names(by_seed(table, r, "collapsed").idxmax())
                         for r in _runs(table))
    return _judge_runs("The deepest model has the most collapsed dimensions (both runs)", evidence, hits)


def run_b_deepest_mostly_collapsed(table: Any) -> Claim:
    _require(table, DEEPEST)
    collapsed = by_seed(table, RUN_B, "collapsed").loc[DEEPEST]
    active = by_seed(table, RUN_B, "active_units").loc[DEEPEST]
    return _judge("Run B: in the deepest model most dimensions collapse (> 32 of 64)",
                  "/".join(str(int(v)) for v in collapsed) + " of 64 with KL < 0.01, "
                  + "/".join(str(int(v)) for v in active) + " active units",
                  list(collapsed > 32))


def validation_follows_training(table: Any, tolerance: float = 0.02) -> Claim:
    hits = _per_run(table, "final_gap", lambda col: col.max() < tolerance)
    evidence = ", ".join(f"{SHORT.get(r, r)}: largest final gap "
                         f"{100 * by_seed(table, r, 'final_gap').max().max():.1f} % of the ELBO"
                         for r in _runs(table))
    return _judge_runs(f"Validation follows training exactly (all models; here: final gap < "
                  f"{100 * tolerance:.0f} % of the ELBO)", evidence, hits)


def batch16_breaks_the_chain(table: Any) -> Claim:
    finite = {r: by_seed(table, r, "chain_finite").all() for r in (RUN_A, RUN_B)}   # per seed
    hits = {RUN_A: [not f for f in finite[RUN_A]], RUN_B: [bool(f) for f in finite[RUN_B]]}
    evidence = ", ".join(
        f"{SHORT[r]}: {'all finite' if finite[r].all() else 'non-finite states'}, up to "
        f"{100 * by_seed(table, r, 'final_saturated').max().max():.0f} % of final pixels ≥ 1"
        for r in (RUN_A, RUN_B))
    return _judge_runs("Batch 16 (run A) breaks the limiting chain, batch 64 (run B) does not "
                       "(here: a NaN/∞ state)", evidence, hits)


def deepest_samples_most_digit_like(table: Any) -> Claim:
    _require(table, DEEPEST)
    hits = _per_run(table, "frechet_distance", lambda col: col.idxmin() == DEEPEST)
    parts = []
    for r in _runs(table):
        fd = by_seed(table, r, "frechet_distance").mean(axis=1)
        parts.append(f"{SHORT.get(r, r)}: lowest {fd.idxmin()} ({fd.min():.1f}), deepest "
                     f"{fd[DEEPEST]:.1f}")
    return _judge_runs("The deepest model's samples look most like digits (here: lowest "
                       "Fréchet distance; both runs)", ", ".join(parts), hits)


def run_b_deepest_chain_clearest(table: Any) -> Claim:
    _require(table, DEEPEST, "vanilla")
    conf = by_seed(table, RUN_B, "chain_confidence")
    mean = conf.mean(axis=1)
    return _judge("Run B: the deepest model's chain shows digits most clearly (here: highest "
                  "mean frame confidence)",
                  f"highest: {_per_seed_names(conf.idxmax())}; mean over seeds: deepest "
                  f"{mean[DEEPEST]:.2f}, vanilla {mean['vanilla']:.2f}",
                  list(conf.idxmax() == DEEPEST))


def run_b_deepest_chain_morphs(table: Any) -> Claim:
    _require(table, DEEPEST)
    switches = by_seed(table, RUN_B, "class_switches").loc[DEEPEST]
    return _judge("Run B: the deepest model's chain morphs between digits (here: ≥ 1 class "
                  "change per chain)",
                  "/".join(f"{v:.1f}" for v in switches) + " class changes per chain",
                  list(switches >= 1))


#: Every claim of the seed the report judges, in the report's order.
CLAIMS: list[Callable[[Any], Claim]] = [
    run_a_deep512_highest_elbo, run_a_wider_is_better, run_a_deepest_lowest_elbo,
    run_b_deep256_highest_elbo, elbo_ranking_misleads, no_collapsed_dimensions("vanilla"),
    no_collapsed_dimensions("deep-512"), deepest_most_collapsed, run_b_deepest_mostly_collapsed,
    validation_follows_training, batch16_breaks_the_chain, deepest_samples_most_digit_like,
    run_b_deepest_chain_clearest, run_b_deepest_chain_morphs,
]


def evaluate_claims(table: Any) -> Any:
    """Every claim of :data:`CLAIMS` judged on ``table``: a DataFrame with the columns
    ``claim (seed)``, ``this run`` and ``verdict``."""
    import pandas as pd

    judged = []
    for rule in CLAIMS:
        try:
            judged.append(rule(table))
        except KeyError as missing:          # a run or an architecture this claim names
            judged.append(Claim(rule.__name__.replace("_", " "),
                                f"not measured: {missing} is not in this study's selection",
                                UNCLEAR))
    return pd.DataFrame([(c.claim, c.evidence, c.verdict) for c in judged],
                        columns=["claim (seed)", "this run", "verdict"])
