"""The verdict rule (vae_report.report.stats) driven to every outcome on synthetic margins, the
degenerate cases included: one test for every claim, with no seam between equal and unequal
margins."""
import math

import pytest

from vae_report.report import stats
from vae_report.report.stats import NOT_REPRODUCED, REPRODUCED, UNCLEAR


def test_the_t_test_of_the_mean_margin():
    t = stats.margin_test([1.0, 2.0, 3.0], resolution=0.1)
    assert t.method == stats.T_TEST and t.n == 3 and t.mean == 2.0 and t.k == 3 and t.df == 2
    # sd 1, plus the rounding variance 0.1²/12
    assert t.se == pytest.approx(math.sqrt((1.0 + 0.01 / 12) / 3))
    from scipy.stats import t as student
    assert t.p == pytest.approx(2 * student.sf(2.0 / t.se, 2))
    lo, hi = t.interval(0.05)
    assert lo < 2.0 < hi and hi - 2.0 == pytest.approx(2.0 - lo)
    assert t.seeds_text == "3/3 seeds"


def test_equal_margins_are_no_seam():
    """(1, 1, 1, 1, 1) and (1, 1, 1, 1, 1.001) get (almost) the same p: the resolution's
    variance stands in for a spread that rounding hides, and no second test takes over."""
    equal = stats.margin_test([1.0] * 5, resolution=1.0)
    nearly = stats.margin_test([1.0, 1.0, 1.0, 1.0, 1.001], resolution=1.0)
    assert equal.method == nearly.method == stats.T_TEST
    assert equal.p == pytest.approx(nearly.p, rel=1e-3)
    # se = √(1/12)/√5: t = 7.75 on 4 df, p ≈ 0.0015 — decidable at α = 0.05 alone
    assert equal.p == pytest.approx(0.0015, abs=2e-4)
    assert stats.verdict(equal, equal.p <= 0.05) == REPRODUCED
    # a finer resolution makes equal margins more certain, continuously
    assert stats.margin_test([1.0] * 5, resolution=0.1).p < equal.p


def test_no_effect_and_no_test():
    assert stats.margin_test([0.0, 0.0], resolution=1.0).p == 1.0
    for margins in ([2.0], [1.0, math.nan, 2.0]):
        t = stats.margin_test(margins, resolution=0.1)
        assert t.method == stats.NO_TEST and t.p == 1.0
        assert t.interval(0.05) == (-math.inf, math.inf)
    with pytest.raises(ValueError, match="at least one seed"):
        stats.margin_test([], resolution=0.1)
    with pytest.raises(ValueError, match="resolution must be > 0"):
        stats.margin_test([1.0, 2.0], resolution=0.0)


def test_a_sized_claim_is_tested_for_its_size():
    """"much more steady": margins around 0.4 clear 0 but not δ = 0.5."""
    margins = [0.43, 0.29, 0.43, 0.57, 0.29]
    plain = stats.margin_test(margins, resolution=0.01)
    sized = stats.margin_test(margins, resolution=0.01, shift=0.5)
    assert stats.verdict(plain, plain.p <= 0.05) == REPRODUCED
    assert sized.mean == pytest.approx(plain.mean - 0.5) and sized.k == 1     # one seed > 0.5
    assert stats.verdict(sized, sized.p <= 0.05) != REPRODUCED
    # the interval stays in the margin's own units
    assert sized.interval(0.05) == pytest.approx(plain.interval(0.05))
    far = stats.margin_test([3.0, 3.1, 2.9], resolution=0.01, shift=0.5)
    assert stats.verdict(far, far.p <= 0.05) == REPRODUCED
    below = stats.margin_test([0.1, 0.12, 0.09, 0.11], resolution=0.01, shift=0.5)
    assert stats.verdict(below, below.p <= 0.05) == NOT_REPRODUCED


def test_welch_compares_two_runs_without_pairing_their_seeds():
    a, b = [3.0, 3.5, 2.5, 3.2, 2.8], [1.0, 1.4, 0.6, 1.1]
    t = stats.welch_test(a, b, resolution=0.01)
    assert t.method == stats.WELCH and t.n == 9 and t.k is None
    assert t.mean == pytest.approx(sum(a) / 5 - sum(b) / 4)
    from scipy.stats import ttest_ind
    reference = ttest_ind(a, b, equal_var=False)
    assert t.p == pytest.approx(reference.pvalue, rel=0.02)     # the same test, bar the rounding term
    # the order of the seeds does not matter (they are not paired)
    assert stats.welch_test(a[::-1], b, resolution=0.01).p == pytest.approx(t.p)
    one = stats.welch_test([1.0], b, resolution=0.01)
    assert one.p == 1.0 and one.method == stats.NO_TEST
    assert t.seeds_text == "n = 9"


def test_holm_step_down():
    p = [0.001, 0.04, 0.012, 0.3]
    rejected, levels = stats.holm(p)
    assert rejected == [True, False, True, False]
    assert levels[0] == pytest.approx(0.05 / 4) and levels[2] == pytest.approx(0.05 / 3)
    assert levels[1] == levels[3] == pytest.approx(0.05 / 2)     # where the procedure stopped
    assert stats.holm([]) == ([], [])
    assert stats.holm([0.04]) == ([True], [0.05])
    rejected, _ = stats.holm([0.011, 0.012, 0.013, 0.014])
    assert rejected == [True] * 4


def test_verdict_combine_and_practical():
    clear = stats.margin_test([5.0, 6.0, 7.0, 5.5, 6.5], resolution=0.1)
    against = stats.margin_test([-5.0, -6.0, -7.0, -5.5, -6.5], resolution=0.1)
    assert stats.verdict(clear, True) == REPRODUCED
    assert stats.verdict(against, True) == NOT_REPRODUCED
    assert stats.verdict(clear, False) == UNCLEAR
    assert stats.verdict(stats.margin_test([0.0, 0.0], resolution=0.1), True) == UNCLEAR
    assert stats.combine([REPRODUCED, REPRODUCED]) == REPRODUCED
    assert stats.combine([REPRODUCED, UNCLEAR]) == UNCLEAR
    assert stats.combine([REPRODUCED, NOT_REPRODUCED]) == NOT_REPRODUCED
    assert stats.combine([UNCLEAR, NOT_REPRODUCED]) == NOT_REPRODUCED
    assert stats.combine([]) == UNCLEAR
    assert stats.practical((4.0, 8.0), REPRODUCED, 2.0) == "≥ δ"
    assert stats.practical((0.3, 8.0), REPRODUCED, 2.0) == "< δ"
    assert stats.practical((-8.0, -3.0), NOT_REPRODUCED, 2.0) == "≥ δ"
    assert stats.practical((-8.0, -1.0), NOT_REPRODUCED, 2.0) == "< δ"
    assert stats.practical((-1.0, 1.0), UNCLEAR, 2.0) == ""


def test_spearman_exact_permutation_p():
    rho, p = stats.spearman_permutation_p([1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7])
    assert rho == pytest.approx(1.0) and p == pytest.approx(2 / 5040)
    rho, p = stats.spearman_permutation_p([1, 2, 3, 4, 5, 6, 7], [7, 6, 5, 4, 3, 2, 1])
    assert rho == pytest.approx(-1.0) and p == pytest.approx(2 / 5040)
    _, p = stats.spearman_permutation_p([1, 2, 3, 4, 5, 6, 7], [2, 1, 4, 3, 6, 5, 7])
    assert 0 < p < 0.05
    with pytest.raises(ValueError, match="3–9 values"):
        stats.spearman_permutation_p([1, 2], [2, 1])
