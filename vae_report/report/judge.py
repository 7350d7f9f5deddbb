"""The verdicts: each claim's margins tested under the one rule (:mod:`stats`: a t-interval over
seeds at the margin's resolution, Welch's when run A is compared with run B, the seed's size words
tested as sizes, Holm-adjusted across the family), and the claims table, its appendix and caption
as the report shows them. A claim about both runs holds only where it holds in each.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from vae_report.params import RUNS
from . import stats
from .claims import CLAIMS, NOT_JUDGED, SeedClaim
from .evidence import CONVENTIONS, NotInSelection, TwoRuns, by_seed, check_columns, spearman
from .stats import UNCLEAR

@dataclass
class Part:
    """One test of a claim: ``label`` is the run for a claim tested in each run ("" for one test),
    with its margins' test, Holm level, interval and verdict."""

    label: str
    test: stats.MarginTest
    level: float = math.nan
    interval: tuple[float, float] = (math.nan, math.nan)
    verdict: str = UNCLEAR


@dataclass
class Judged:
    """One claim judged on a table: its tests (one, or one per run), the combined verdict and the
    evidence (or why it is not measured in this selection); ``conventions``: for an ELBO ranking,
    its verdict under the IWAE bound and the 8-bit likelihood at the same Holm level."""

    claim: SeedClaim
    evidence: str
    parts: list[Part] = field(default_factory=list)
    verdict: str = UNCLEAR
    practical: str = ""
    conventions: dict[str, str] = field(default_factory=dict)

    @property
    def test(self) -> stats.MarginTest | None:
        """The claim's test (the first run's for a claim tested in each run); None when not
        measured."""
        return self.parts[0].test if self.parts else None

    @property
    def measured(self) -> bool:
        return bool(self.parts)


def _tests(c: SeedClaim, margins: Any, delta: float) -> list[tuple[str, stats.MarginTest]]:
    shift = delta if c.sized else 0.0
    if isinstance(margins, TwoRuns):
        return [("", stats.welch_test(list(margins.a), list(margins.b), c.quantum, shift))]
    if isinstance(margins, dict):
        return [(RUNS[r].short, stats.margin_test([float(x) for x in m], c.quantum, shift))
                for r, m in margins.items()]
    return [("", stats.margin_test([float(x) for x in margins], c.quantum, shift))]


def delta_of(c: SeedClaim, reference_fd: float | None = None) -> float:
    """The claim's practical margin; a Fréchet-distance claim's is never below the distance of
    two sets of real digits (``reference_fd``, the classifier's floor)."""
    if c.unit == "FD" and reference_fd is not None:
        return max(c.delta, reference_fd)
    return c.delta


def judge(table: Any, claims: list[SeedClaim] | None = None, alpha: float = stats.ALPHA,
          reference_fd: float | None = None) -> list[Judged]:
    """Every claim of ``claims`` (default :data:`CLAIMS`) judged on ``table``: each claim's tests
    (one per run for a claim about each run), Holm-adjusted together across the claims measured
    here (a claim about a run or an architecture the selection lacks is *unclear*, "not
    measured", and not part of the family); ``reference_fd``: the classifier's real-versus-real
    Fréchet distance, the floor of the FD claims' δ."""
    check_columns(table)
    judged = []
    for c in claims if claims is not None else CLAIMS:
        try:
            margins, evidence = c.margin(table)
        except NotInSelection as missing:
            judged.append(Judged(c, f"not measured: this study lacks {missing}"))
            continue
        tests = _tests(c, margins, delta_of(c, reference_fd))
        judged.append(Judged(c, evidence, [Part(label, t) for label, t in tests]))
    parts = [p for j in judged for p in j.parts]
    rejected, levels = stats.holm([p.test.p for p in parts], alpha)
    for p, rej, level in zip(parts, rejected, levels):
        p.level, p.interval = level, p.test.interval(level)
        p.verdict = stats.verdict(p.test, rej)
    for j in judged:
        if not j.parts:
            continue
        j.verdict = stats.combine([p.verdict for p in j.parts])
        if len(j.parts) == 1 and not j.claim.sized:
            j.practical = stats.practical(j.parts[0].interval, j.verdict,
                                          delta_of(j.claim, reference_fd))
        if j.claim.conventions:
            j.conventions = _under_conventions(j, table)
    return judged


def _under_conventions(j: Judged, table: Any) -> dict[str, str]:
    """The ranking claim's verdict when the models are ranked by the IWAE bound and by the 8-bit
    likelihood instead of the ELBO, each tested at the claim's own Holm level."""
    out = {}
    for column, label in CONVENTIONS.items():
        margins, _ = j.claim.margin(table, column)
        (_, t), = _tests(j.claim, margins, j.claim.delta)
        out[label] = stats.verdict(t, t.p <= j.parts[0].level)
    return out


def _number(x: float, d: int) -> str:
    return f"{x:+.{d}f}"


def part_text(c: SeedClaim, p: Part) -> str:
    """``+12.3 [+8.1, +16.5] nats, 5/5 seeds`` — the mean margin, its Holm-level interval, the
    seeds; "(not testable: 1 seed)" when there is no test."""
    d, unit = c.digits, f" {c.unit}" if c.unit else ""
    t = p.test
    centre = t.mean + t.shift
    label = f"{p.label}: " if p.label else ""
    if t.method == stats.NO_TEST:
        return f"{label}{_number(centre, d)}{unit} (not testable: {t.n} seed{'s' * (t.n != 1)})"
    lo, hi = p.interval
    return f"{label}{_number(centre, d)} [{_number(lo, d)}, {_number(hi, d)}]{unit}, {t.seeds_text}"


def interval_text(j: Judged) -> str:
    """Each test's mean margin, interval and seeds (``; ``-joined); "—" when not measured."""
    if not j.parts:
        return "—"
    return "; ".join(part_text(j.claim, p) for p in j.parts)


#: The verdict shown for a claim this rendering could not measure (a run or model not in it).
NOT_MEASURED = "not measured"


def verdict_text(j: Judged) -> str:
    """The verdict, with each run's where the claim is tested in each and they differ; "not
    measured" where the study lacks what the claim needs."""
    if not j.parts:
        return NOT_MEASURED
    if len(j.parts) > 1 and len({p.verdict for p in j.parts}) > 1:
        return j.verdict + " (" + ", ".join(f"{p.label} {p.verdict}" for p in j.parts) + ")"
    return j.verdict


def effect_text(j: Judged, reference_fd: float | None = None) -> str:
    """The compact table's effect column: interval text with δ and its role."""
    if not j.parts:
        return "—"
    delta = delta_of(j.claim, reference_fd)
    role = (f"δ = {delta:.3g}, tested" if j.claim.sized
            else f"δ = {delta:.3g}" + (f" ({j.practical})" if j.practical else ""))
    return f"{interval_text(j)}; {role}"


def evaluate_claims(table: Any, reference_fd: float | None = None) -> Any:
    """The compact claims table: one row a claim — the claim in a few words, the verdict, the
    effect [interval] with δ, and k/n seeds inside it."""
    import pandas as pd

    rows = [(j.claim.claim, verdict_text(j), effect_text(j, reference_fd))
            for j in judge(table, reference_fd=reference_fd)]
    return pd.DataFrame(rows, columns=COLUMNS)


def claims_appendix(table: Any, reference_fd: float | None = None) -> Any:
    """The appendix: per claim the seed's words (whole), where, the test, the per-seed evidence,
    and its verdict under other likelihood conventions where it ranks by ELBO."""
    import pandas as pd

    rows = []
    for j in judge(table, reference_fd=reference_fd):
        c = j.claim
        words = " … ".join(f"“{q}”" for q in (c.quote, *c.also))
        conv = "; ".join(f"by {k}: {v}" for k, v in j.conventions.items())
        rows.append((c.claim, f"{words} ({c.where})", c.test,
                     j.evidence + (f". Ranked {conv}" if conv else ""), verdict_text(j)))
    return pd.DataFrame(rows, columns=APPENDIX_COLUMNS)


def likelihood_dependence(judged: list[Judged]) -> list[tuple[str, str, dict[str, str]]]:
    """The ELBO-ranking claims whose verdict changes with the likelihood convention: (claim, ELBO
    verdict, {convention: verdict})."""
    return [(j.claim.claim, j.verdict, j.conventions) for j in judged
            if j.conventions and any(v != j.verdict for v in j.conventions.values())]


def elbo_vs_iwae(table: Any, run: str) -> dict[str, Any]:
    """How the ELBO and the importance-weighted bound rank ``run``'s models (seed means): the
    best by each, their Spearman rank correlation, and the largest IWAE − ELBO gap."""
    e = by_seed(table, run, "test_elbo").mean(axis=1)
    w = by_seed(table, run, "test_iwae").mean(axis=1)
    return {"best by ELBO": e.idxmax(), "best by IWAE": w.idxmax(),
            "rank correlation (Spearman)": spearman(e, w),
            "largest IWAE − ELBO (nats)": float((w - e).max()), "model with it": (w - e).idxmax()}


#: The compact claims table's columns, and the appendix's.
COLUMNS = ["claim", "verdict", "effect [CI], seeds; δ"]
APPENDIX_COLUMNS = ["claim", "the seed's words", "test", "evidence per seed", "verdict"]

#: How the report states the rule, next to the table.
RULE = (f"Each claim is judged through a margin per training seed that is > 0 when the claim holds "
        f"in that seed. One rule for all: a t-test of the mean margin over the seeds, each margin "
        f"known to its resolution (a whole dimension for a count, the printed digit otherwise: "
        f"equal margins are no special case); Welch's test where run A is compared with run B; "
        f"where the seed's words carry a size (much, considerably, sharpest) the test is of the "
        f"margin minus δ. The p-values are Holm-adjusted across all tests (family-wise error "
        f"{stats.ALPHA:g}): *reproduced* when the test rejects with a positive mean, *not "
        f"reproduced* when it rejects with a negative one, *unclear* otherwise; a claim about "
        f"both runs is tested in each and holds only where it holds in each. The interval is at "
        f"the test's Holm level; k/n counts the seeds whose own margin is > 0 (> δ when sized).")


def caption(seeds: dict[str, list[int]]) -> str:
    """The claims table's caption: the seeds behind it and the rule."""
    counts = ", ".join(f"{RUNS[r].short}: {len(s)}" for r, s in seeds.items())
    return (f"**The claims table.** The seed's claims in its order, judged over every seed of each run "
            f"({counts} seeds). " + RULE + " The seed's words, the tests and the evidence per seed "
            "are in the appendix, with the sentences not judged and why.")


def not_judged_table() -> Any:
    import pandas as pd

    return pd.DataFrame([(f"“{n.quote}”", n.where, n.why) for n in NOT_JUDGED],
                        columns=["the seed's words", "where", "why not judged"])
