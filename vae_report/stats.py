"""The rule that turns a claim's per-seed margins into a verdict, and the family-wise control.

A claim is tested through a **margin**: one number per training seed, > 0 when the claim holds in
that seed (e.g. deep-512's test ELBO minus the best other model's, in nats). Each seed's margin
already carries that seed's Monte Carlo noise (test-set ELBO draws, the IWAE's samples), so the
spread of the margins over seeds holds both sources of noise, and the seeds are independent
replications: the one-sample (paired) **t-test** of "mean margin = 0" over seeds is the test, and
its t-interval the confidence interval of the mean margin.

* With all margins equal (a count that does not move between seeds, sd 0) the t-statistic is
  undefined: the **exact sign test** takes over (two-sided p = 2 · ½ⁿ when all n margins share a
  sign), so five equal seeds never pass a family of more than one claim at α = 0.05 — a margin
  that does not vary cannot show how sure we are;
* one seed (or a NaN margin) gives no test: p = 1.

Across the report's family of claims the p-values are **Holm**-adjusted (family-wise error
α = 0.05): *reproduced* when the claim's test rejects and its mean margin is > 0, *not
reproduced* when it rejects and the mean is < 0, *unclear* otherwise. A claim's interval is shown
at its Holm level (α / (m − k + 1) for the k-th smallest p-value), and for the claims Holm does not
reject at the level where the procedure stopped, so that "the interval excludes 0" and the
verdict always agree for t-tested claims.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

#: The family-wise error rate of the report's verdicts.
ALPHA = 0.05

REPRODUCED, NOT_REPRODUCED, UNCLEAR = "reproduced", "not reproduced", "unclear"
VERDICTS: tuple[str, ...] = (REPRODUCED, NOT_REPRODUCED, UNCLEAR)

T_TEST, SIGN_TEST, NO_TEST = "t", "sign", "none"


@dataclass(frozen=True)
class MarginTest:
    """The test of one claim's per-seed margins: ``n`` seeds, their mean and sd, the two-sided
    p-value of "mean margin = 0" and the test that gave it (:data:`T_TEST`, :data:`SIGN_TEST`
    or :data:`NO_TEST`)."""

    n: int
    mean: float
    sd: float
    p: float
    method: str

    def interval(self, level: float) -> tuple[float, float]:
        """The two-sided ``1 − level`` confidence interval of the mean margin: the t-interval;
        the single value itself when every seed gave it (sd 0); (−∞, ∞) with no test."""
        if self.method == T_TEST:
            from scipy.stats import t

            half = float(t.ppf(1 - level / 2, self.n - 1)) * self.sd / math.sqrt(self.n)
            return self.mean - half, self.mean + half
        if self.method == SIGN_TEST:
            return self.mean, self.mean
        return -math.inf, math.inf


def margin_test(margins: Sequence[float]) -> MarginTest:
    """The test of per-seed ``margins`` (see the module): a t-test, the exact sign test when
    they are all equal, no test for one seed or a NaN."""
    m = [float(x) for x in margins]
    if not m:
        raise ValueError("a claim needs at least one seed's margin to be judged")
    n = len(m)
    mean = sum(m) / n
    if n < 2 or any(math.isnan(x) for x in m):
        return MarginTest(n, mean, math.nan, 1.0, NO_TEST)
    sd = math.sqrt(sum((x - mean) ** 2 for x in m) / (n - 1))
    if sd == 0 or sd <= 1e-12 * abs(mean):       # all equal (up to rounding of the mean)
        p = 1.0 if mean == 0 else min(1.0, 2 * 0.5 ** n)
        return MarginTest(n, mean, 0.0, p, SIGN_TEST)
    from scipy.stats import t

    stat = mean / (sd / math.sqrt(n))
    return MarginTest(n, mean, sd, float(2 * t.sf(abs(stat), n - 1)), T_TEST)


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
    """*reproduced* / *not reproduced* when the test rejects (by the mean's sign), else *unclear*."""
    if not rejected or test.mean == 0 or math.isnan(test.mean):
        return UNCLEAR
    return REPRODUCED if test.mean > 0 else NOT_REPRODUCED


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
