"""The rule that turns a claim's per-seed margins into a verdict, and the family-wise control.

A claim is tested through a **margin**: one number per training seed, > 0 when the claim holds in
that seed (e.g. deep-512's test ELBO minus the best other model's, in nats). Each seed's margin
already carries that seed's Monte Carlo noise, so the spread of the margins over seeds holds both
sources of noise, and the seeds are independent replications. One rule serves every claim:

* **One sample of seeds** (:func:`margin_test`): the t-test of "mean margin = 0" over the seeds,
  and its t-interval. **Two runs compared** (:func:`welch_test`, e.g. run A against run B): their
  seeds are not paired by index, so Welch's two-sample t-test of the difference of the means.
* **The margin's resolution** ``q``: a margin is known only to its resolution (1 for a count of
  dimensions or epochs, the printed precision otherwise), so each seed's margin carries the
  variance ``q²/12`` of a value rounded to ``q`` on top of the spread over seeds. This defines
  the degenerate cases instead of switching tests: five equal margins (1, 1, 1, 1, 1) get the
  same verdict as (1, 1, 1, 1, 1.001), and a test exists whenever there are two seeds.
* **A size in the seed's words** ("much", "considerably", "sharpest"): the claim is tested for
  the size, i.e. the margin minus the practical margin δ (``shift``); elsewhere δ is shown beside
  the verdict, not part of it.
* Fewer than two seeds (or a NaN margin) gives no test: p = 1, the interval (−∞, ∞).

Across the report's family of tests the p-values are **Holm**-adjusted (family-wise error
α = 0.05): *reproduced* when the test rejects and its mean margin is > 0, *not reproduced* when
it rejects and the mean is < 0, *unclear* otherwise. A claim tested per run (both runs) holds
only where it holds in each: :func:`combine`. A test's interval is shown at its Holm level
(α / (m − k + 1) for the k-th smallest p-value), and for the tests Holm does not reject at the
level where the procedure stopped, so that "the interval excludes 0" and the verdict agree.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

#: The family-wise error rate of the report's verdicts.
ALPHA = 0.05

REPRODUCED, NOT_REPRODUCED, UNCLEAR = "reproduced", "not reproduced", "unclear"
VERDICTS: tuple[str, ...] = (REPRODUCED, NOT_REPRODUCED, UNCLEAR)

T_TEST, WELCH, NO_TEST = "t", "Welch", "none"


@dataclass(frozen=True)
class MarginTest:
    """The test of one claim's margins: ``n`` seeds (both runs' for Welch), the mean margin (the
    difference of the runs' means for Welch) less the tested size ``shift``, its standard error
    ``se``, the degrees of freedom, the two-sided p-value of "mean − shift = 0", the test, and
    ``k`` — the seeds whose own margin clears the tested size (one-sample tests; ``None`` for
    Welch)."""

    n: int
    mean: float
    se: float
    df: float
    p: float
    method: str
    k: int | None = None
    shift: float = 0.0

    def interval(self, level: float) -> tuple[float, float]:
        """The two-sided ``1 − level`` t-interval of the mean margin (``shift`` added back, so it
        is in the margin's own units); (−∞, ∞) with no test."""
        if self.method == NO_TEST:
            return -math.inf, math.inf
        from scipy.stats import t

        half = float(t.ppf(1 - level / 2, self.df)) * self.se
        centre = self.mean + self.shift
        return centre - half, centre + half

    @property
    def seeds_text(self) -> str:
        """``4/5 seeds`` (one-sample; ``4/5 seeds > δ`` for a sized claim) or ``n = 10`` (Welch)."""
        if self.k is None:
            return f"n = {self.n}"
        return f"{self.k}/{self.n} seeds" + (" > δ" if self.shift else "")


def _p_two_sided(stat: float, df: float) -> float:
    from scipy.stats import t

    return float(2 * t.sf(abs(stat), df))


def _clean(values: Sequence[float]) -> list[float]:
    return [float(x) for x in values]


def margin_test(margins: Sequence[float], resolution: float, shift: float = 0.0) -> MarginTest:
    """The one-sample test of per-seed ``margins`` (see the module): is their mean above
    ``shift``? ``resolution`` (> 0) is the margin's quantum ``q``: each margin's variance gets
    ``q²/12``."""
    m = _clean(margins)
    if not m:
        raise ValueError("a claim needs at least one seed's margin to be judged")
    if not resolution > 0:
        raise ValueError(f"resolution must be > 0, got {resolution}")
    n = len(m)
    mean = sum(m) / n
    k = sum(x > shift for x in m)
    if n < 2 or any(math.isnan(x) for x in m):
        return MarginTest(n, mean - shift, math.nan, math.nan, 1.0, NO_TEST, k, shift)
    var = sum((x - mean) ** 2 for x in m) / (n - 1) + resolution ** 2 / 12
    se = math.sqrt(var / n)
    return MarginTest(n, mean - shift, se, n - 1, _p_two_sided((mean - shift) / se, n - 1),
                      T_TEST, k, shift)


def welch_test(a: Sequence[float], b: Sequence[float], resolution: float,
               shift: float = 0.0) -> MarginTest:
    """Welch's two-sample test: is mean(``a``) − mean(``b``) above ``shift``? Each value's
    variance gets ``resolution²/12`` as in :func:`margin_test`."""
    xa, xb = _clean(a), _clean(b)
    if not xa or not xb:
        raise ValueError("a two-run claim needs margins from both runs")
    if not resolution > 0:
        raise ValueError(f"resolution must be > 0, got {resolution}")
    na, nb = len(xa), len(xb)
    ma, mb = sum(xa) / na, sum(xb) / nb
    diff = ma - mb - shift
    if min(na, nb) < 2 or any(math.isnan(x) for x in xa + xb):
        return MarginTest(na + nb, diff, math.nan, math.nan, 1.0, NO_TEST, None, shift)
    extra = resolution ** 2 / 12
    va = sum((x - ma) ** 2 for x in xa) / (na - 1) + extra
    vb = sum((x - mb) ** 2 for x in xb) / (nb - 1) + extra
    sa, sb = va / na, vb / nb
    se = math.sqrt(sa + sb)
    df = (sa + sb) ** 2 / (sa ** 2 / (na - 1) + sb ** 2 / (nb - 1))     # Welch–Satterthwaite
    return MarginTest(na + nb, diff, se, df, _p_two_sided(diff / se, df), WELCH, None, shift)


def holm(pvalues: Sequence[float], alpha: float = ALPHA) -> tuple[list[bool], list[float]]:
    """Holm's step-down procedure: whether each hypothesis is rejected at family-wise error
    ``alpha``, and the level its confidence interval uses — α / (m − k + 1) for the k-th
    smallest p-value that was rejected, and for the rest the level at which the procedure
    stopped (their intervals then contain 0, as their verdicts say)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    rejected, levels = [False] * m, [alpha / m if m else alpha] * m
    stop_level = alpha
    for k, i in enumerate(order):
        level = alpha / (m - k)
        if pvalues[i] > level:
            stop_level = level
            break
        rejected[i], levels[i] = True, level
    for i in range(m):
        if not rejected[i]:
            levels[i] = stop_level
    return rejected, levels


def verdict(test: MarginTest, rejected: bool) -> str:
    """*reproduced* / *not reproduced* when the test rejects (by the sign of mean − shift), else
    *unclear*."""
    if not rejected or test.mean == 0 or math.isnan(test.mean):
        return UNCLEAR
    return REPRODUCED if test.mean > 0 else NOT_REPRODUCED


def combine(verdicts: Sequence[str]) -> str:
    """One claim tested in several runs holds only where it holds in each: *not reproduced* if
    any run contradicts it, *reproduced* if every run reproduces it, else *unclear*."""
    if not verdicts:
        return UNCLEAR
    if NOT_REPRODUCED in verdicts:
        return NOT_REPRODUCED
    return REPRODUCED if all(v == REPRODUCED for v in verdicts) else UNCLEAR


def practical(interval: tuple[float, float], verdict_: str, delta: float) -> str:
    """Whether a decided claim's whole interval clears the practical margin ``delta`` (in the
    claim's units): "≥ δ" / "< δ" for *reproduced* (lower end ≥ δ) and *not reproduced* (upper
    end ≤ −δ); "" when unclear."""
    lo, hi = interval
    if verdict_ == REPRODUCED:
        return "≥ δ" if lo >= delta else "< δ"
    if verdict_ == NOT_REPRODUCED:
        return "≥ δ" if hi <= -delta else "< δ"
    return ""


def spearman_permutation_p(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Spearman's ρ of ``x`` and ``y`` and its exact two-sided permutation p-value (every
    ordering of ``y``: 5,040 for the seven models; ties ranked by their mean rank)."""
    import itertools

    import numpy as np
    from scipy.stats import rankdata

    rx, ry = rankdata(x), rankdata(y)
    if len(rx) < 3 or len(rx) > 9:
        raise ValueError(f"an exact permutation test needs 3–9 values, got {len(rx)}")
    rho = float(np.corrcoef(rx, ry)[0, 1])
    # every ordering of y's ranks at once: Pearson's r of the ranks, one row per permutation
    perms = np.array(list(itertools.permutations(ry)))                 # [n!, n]
    cx = (rx - rx.mean()) / np.linalg.norm(rx - rx.mean())
    cp = perms - perms.mean(axis=1, keepdims=True)
    rhos = cp @ cx / np.linalg.norm(cp, axis=1)
    return rho, float(np.mean(np.abs(rhos) >= abs(rho) - 1e-12))
