"""The verdict rule: the t-test and its interval, the sign test for margins that do not vary,
Holm's procedure, each driven to each outcome and its edge cases."""
import math

import pytest

from vae_report import stats
from vae_report.stats import NOT_REPRODUCED, REPRODUCED, UNCLEAR


def test_t_test_and_interval_match_the_textbook():
    # margins 1, 2, 3: mean 2, sd 1, t = 2 / (1/√3) = 3.464 on 2 df; two-sided p = 0.0742
    t = stats.margin_test([1.0, 2.0, 3.0])
    assert t.method == stats.T_TEST and t.n == 3 and t.mean == 2.0 and t.sd == pytest.approx(1.0)
    assert t.p == pytest.approx(0.07418, abs=1e-4)
    lo, hi = t.interval(0.05)              # t(0.975, 2) = 4.303: 2 ± 4.303/√3 = 2 ± 2.484
    assert lo == pytest.approx(2 - 2.4843, abs=1e-3) and hi == pytest.approx(2 + 2.4843, abs=1e-3)
    # the interval excludes 0 exactly when p is below its level
    assert (lo > 0) == (t.p < 0.05)
    lo, hi = t.interval(0.1)
    assert (lo > 0) == (t.p < 0.1) and lo > 0


def test_margins_that_do_not_vary_get_the_exact_sign_test():
    t = stats.margin_test([3.0] * 5)
    assert t.method == stats.SIGN_TEST and t.sd == 0 and t.p == pytest.approx(2 * 0.5 ** 5)
    assert t.interval(0.01) == (3.0, 3.0)
    assert stats.margin_test([0.0, 0.0]).p == 1.0          # no effect at all
    assert stats.margin_test([-2.0, -2.0, -2.0]).p == pytest.approx(0.25)


def test_one_seed_or_a_nan_gives_no_test():
    for margins in ([5.0], [1.0, math.nan, 2.0]):
        t = stats.margin_test(margins)
        assert t.method == stats.NO_TEST and t.p == 1.0
        assert t.interval(0.05) == (-math.inf, math.inf)
    with pytest.raises(ValueError, match="at least one"):
        stats.margin_test([])


def test_holm_step_down():
    p = [0.001, 0.04, 0.012, 0.02, 0.3]
    # m = 5, sorted: 0.001 ≤ 0.01 ✓, 0.012 ≤ 0.0125 ✓, 0.02 ≤ 0.0167 ✗ → stop
    rejected, levels = stats.holm(p)
    assert rejected == [True, False, True, False, False]
    assert levels[0] == pytest.approx(0.01) and levels[2] == pytest.approx(0.0125)
    # the rest use the level where it stopped, so their intervals contain 0
    assert levels[1] == levels[3] == levels[4] == pytest.approx(0.05 / 3)
    assert stats.holm([]) == ([], [])
    assert stats.holm([0.04]) == ([True], [0.05])
    # Holm is never less strict than each test alone, never stricter than Bonferroni
    rejected, _ = stats.holm([0.011, 0.012, 0.013, 0.014])
    assert rejected == [True, True, True, True]          # all ≤ 0.0125 at the first step


def test_verdicts_and_the_practical_margin():
    clear = stats.margin_test([5.0, 6.0, 7.0, 5.5, 6.5])
    against = stats.margin_test([-5.0, -6.0, -7.0, -5.5, -6.5])
    assert stats.verdict(clear, True) == REPRODUCED
    assert stats.verdict(against, True) == NOT_REPRODUCED
    assert stats.verdict(clear, False) == UNCLEAR
    assert stats.verdict(stats.margin_test([0.0, 0.0]), True) == UNCLEAR
    assert stats.practical((4.0, 8.0), REPRODUCED, 2.0) == "≥ δ"
    assert stats.practical((0.3, 8.0), REPRODUCED, 2.0) == "< δ"      # reproduced, but by little
    assert stats.practical((-8.0, -3.0), NOT_REPRODUCED, 2.0) == "≥ δ"
    assert stats.practical((-8.0, -1.0), NOT_REPRODUCED, 2.0) == "< δ"
    assert stats.practical((-1.0, 1.0), UNCLEAR, 2.0) == ""
