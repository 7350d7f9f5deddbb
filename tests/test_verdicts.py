"""Each claim's rule driven to each verdict on small synthetic tables (report.metrics_table's
shape: one row per (run, seed, arch))."""
import pandas as pd
import pytest

import vae_core as vc
from vae_report import verdicts as v
from vae_report.verdicts import NOT_REPRODUCED, REPRODUCED, UNCLEAR

ARCHS = list(vc.ARCHS)
DEEPEST = "deep-512-256-128"


def table(seeds=(0, 1, 2), **columns):
    """A metrics table where every run has ``seeds``; ``columns[name] = f(run, seed, arch)``
    overrides a neutral default (no claim holds by accident)."""
    defaults = {
        "test_elbo": lambda r, s, a: -800.0 - ARCHS.index(a),     # vanilla best, deepest worst
        "test_iwae": lambda r, s, a: -790.0 - ARCHS.index(a),
        "collapsed": lambda r, s, a: 5, "active_units": lambda r, s, a: 50,
        "final_gap": lambda r, s, a: 0.05, "chain_finite": lambda r, s, a: True,
        "final_saturated": lambda r, s, a: 0.0, "frechet_distance": lambda r, s, a: 10.0 + ARCHS.index(a),
        "chain_confidence": lambda r, s, a: 0.5, "class_switches": lambda r, s, a: 0.0}
    defaults.update(columns)
    rows = {(r, s, a): {k: f(r, s, a) for k, f in defaults.items()}
            for r in ("original", "retrained") for s in seeds for a in ARCHS}
    t = pd.DataFrame.from_dict(rows, orient="index")
    t.index = pd.MultiIndex.from_tuples(t.index, names=["run", "seed", "arch"])
    return t


def outcome(rule, **columns):
    return rule(table(**columns)).verdict


def by_seed(good_seeds, if_true, if_false):
    return lambda r, s, a: if_true(r, s, a) if s in good_seeds else if_false(r, s, a)


def test_combining_runs():
    assert v.all_of([REPRODUCED, REPRODUCED]) == REPRODUCED
    assert v.all_of([REPRODUCED, UNCLEAR]) == UNCLEAR
    assert v.all_of([UNCLEAR, NOT_REPRODUCED]) == NOT_REPRODUCED
    assert v.any_of([NOT_REPRODUCED, REPRODUCED]) == REPRODUCED
    assert v.any_of([NOT_REPRODUCED, UNCLEAR]) == UNCLEAR
    assert v.any_of([NOT_REPRODUCED, NOT_REPRODUCED]) == NOT_REPRODUCED


def test_across_seeds():
    assert v.across_seeds([True, True]) == REPRODUCED
    assert v.across_seeds([False]) == NOT_REPRODUCED
    assert v.across_seeds([True, False, True]) == UNCLEAR
    with pytest.raises(ValueError):
        v.across_seeds([])
    assert v.holds_in([True, False, True]) == " (holds in 2 of 3 seeds)" and v.holds_in([True]) == ""


def _best(arch, base=-800.0):
    """test_elbo where ``arch`` is best, the others ordered as in the default."""
    return lambda r, s, a: base + 10 if a == arch else base - ARCHS.index(a)


def _elbo_rule_cases(rule, winner, run):
    def best_in(seeds):
        return lambda r, s, a: _best(winner)(r, s, a) if (r == run and s in seeds) else -800.0 - ARCHS.index(a)
    assert outcome(rule, test_elbo=best_in({0, 1, 2})) == REPRODUCED
    assert outcome(rule, test_elbo=best_in(set())) == NOT_REPRODUCED
    assert outcome(rule, test_elbo=best_in({1})) == UNCLEAR


def test_run_a_deep512_highest_elbo():
    _elbo_rule_cases(v.run_a_deep512_highest_elbo, "deep-512", "original")


def test_run_b_deep256_highest_elbo():
    _elbo_rule_cases(v.run_b_deep256_highest_elbo, "deep-256", "retrained")


def test_run_a_wider_is_better():
    rising = lambda r, s, a: -800.0 + {"deep-128": 1, "deep-256": 2, "deep-512": 3}.get(a, 0)
    falling = lambda r, s, a: -800.0 - {"deep-128": 1, "deep-256": 2, "deep-512": 3}.get(a, 0)
    assert outcome(v.run_a_wider_is_better, test_elbo=rising) == REPRODUCED
    assert outcome(v.run_a_wider_is_better, test_elbo=falling) == NOT_REPRODUCED
    assert outcome(v.run_a_wider_is_better, test_elbo=by_seed({0}, rising, falling)) == UNCLEAR


def test_run_a_deepest_lowest_elbo():
    deepest_worst = lambda r, s, a: -800.0 - ARCHS.index(a)
    vanilla_worst = lambda r, s, a: -800.0 + ARCHS.index(a)
    rule = v.run_a_deepest_lowest_elbo
    assert outcome(rule, test_elbo=deepest_worst) == REPRODUCED
    assert outcome(rule, test_elbo=vanilla_worst) == NOT_REPRODUCED
    assert outcome(rule, test_elbo=by_seed({2}, deepest_worst, vanilla_worst)) == UNCLEAR


def test_elbo_ranking_misleads():
    same = lambda r, s, a: -790.0 - ARCHS.index(a)          # IWAE ranks as the ELBO
    other = lambda r, s, a: -790.0 + ARCHS.index(a)         # IWAE picks the deepest
    rule = v.elbo_ranking_misleads
    assert outcome(rule, test_iwae=other) == REPRODUCED
    assert outcome(rule, test_iwae=same) == NOT_REPRODUCED
    assert outcome(rule, test_iwae=by_seed({0}, other, same)) == UNCLEAR
    # one run suffices to show it
    assert outcome(rule, test_iwae=lambda r, s, a: other(r, s, a) if r == "retrained"
                   else same(r, s, a)) == REPRODUCED
    stats = v.elbo_vs_iwae(table(test_iwae=other), "original")
    assert stats["best by ELBO"] == "vanilla" and stats["best by IWAE"] == DEEPEST
    assert stats["rank correlation (Spearman)"] == pytest.approx(-1.0)


@pytest.mark.parametrize("arch", ["vanilla", "deep-512"])
def test_no_collapsed_dimensions(arch):
    rule = v.no_collapsed_dimensions(arch)
    none = lambda r, s, a: 0 if a == arch else 5
    assert outcome(rule) == NOT_REPRODUCED                                  # default: 5 each
    assert outcome(rule, collapsed=none) == REPRODUCED
    # both runs are claimed: holding in run A only is a failure, not a doubt
    assert outcome(rule, collapsed=lambda r, s, a: none(r, s, a) if r == "original" else 5) \
        == NOT_REPRODUCED
    assert outcome(rule, collapsed=by_seed({0}, none, lambda r, s, a: 5)) == UNCLEAR


def test_deepest_most_collapsed():
    most = lambda r, s, a: 40 if a == DEEPEST else 5
    least = lambda r, s, a: 0 if a == DEEPEST else 5
    rule = v.deepest_most_collapsed
    assert outcome(rule, collapsed=most) == REPRODUCED
    assert outcome(rule, collapsed=least) == NOT_REPRODUCED
    assert outcome(rule, collapsed=by_seed({1}, most, least)) == UNCLEAR


def test_run_b_deepest_mostly_collapsed():
    rule = v.run_b_deepest_mostly_collapsed
    many = lambda r, s, a: 40 if a == DEEPEST else 5
    assert outcome(rule, collapsed=many) == REPRODUCED
    assert outcome(rule, collapsed=lambda r, s, a: 32) == NOT_REPRODUCED    # "more than 32"
    assert outcome(rule, collapsed=by_seed({0, 1}, many, lambda r, s, a: 3)) == UNCLEAR


def test_validation_follows_training():
    rule = v.validation_follows_training
    assert outcome(rule, final_gap=lambda r, s, a: 0.01) == REPRODUCED
    assert outcome(rule) == NOT_REPRODUCED                                  # 5 % gaps
    assert outcome(rule, final_gap=by_seed({0}, lambda r, s, a: 0.01, lambda r, s, a: 0.05)) == UNCLEAR


def test_batch16_breaks_the_chain():
    rule = v.batch16_breaks_the_chain
    broken_a = lambda r, s, a: not (r == "original" and a == DEEPEST)
    assert outcome(rule, chain_finite=broken_a) == REPRODUCED
    assert outcome(rule) == NOT_REPRODUCED                                  # all finite
    assert outcome(rule, chain_finite=by_seed({0}, broken_a, lambda r, s, a: True)) == UNCLEAR


def test_deepest_samples_most_digit_like():
    rule = v.deepest_samples_most_digit_like
    best = lambda r, s, a: 1.0 if a == DEEPEST else 10.0 + ARCHS.index(a)
    assert outcome(rule, frechet_distance=best) == REPRODUCED
    assert outcome(rule) == NOT_REPRODUCED                                  # vanilla lowest
    assert outcome(rule, frechet_distance=lambda r, s, a: best(r, s, a) if r == "retrained"
                   else 10.0 + ARCHS.index(a)) == NOT_REPRODUCED
    assert outcome(rule, frechet_distance=by_seed({1}, best,
                                                  lambda r, s, a: 10.0 + ARCHS.index(a))) == UNCLEAR


def test_run_b_deepest_chain_clearest():
    rule = v.run_b_deepest_chain_clearest
    clear = lambda r, s, a: 0.9 if a == DEEPEST else 0.5
    vague = lambda r, s, a: 0.1 if a == DEEPEST else 0.5
    assert outcome(rule, chain_confidence=clear) == REPRODUCED
    assert outcome(rule, chain_confidence=vague) == NOT_REPRODUCED
    assert outcome(rule, chain_confidence=by_seed({2}, clear, vague)) == UNCLEAR


def test_run_b_deepest_chain_morphs():
    rule = v.run_b_deepest_chain_morphs
    assert outcome(rule, class_switches=lambda r, s, a: 1.0) == REPRODUCED     # "≥ 1"
    assert outcome(rule, class_switches=lambda r, s, a: 0.9) == NOT_REPRODUCED
    assert outcome(rule, class_switches=by_seed({0}, lambda r, s, a: 2.0,
                                                lambda r, s, a: 0.0)) == UNCLEAR


def test_one_seed_gives_no_unclear_and_every_claim_is_judged():
    t = table(seeds=(0,))
    claims = v.evaluate_claims(t)
    assert list(claims.columns) == ["claim (seed)", "this run", "verdict"]
    assert len(claims) == len(v.CLAIMS) == 14
    assert set(claims.verdict) <= {REPRODUCED, NOT_REPRODUCED}
    assert all("holds in" not in e for e in claims["this run"])
    three = v.evaluate_claims(table())
    assert set(three.verdict) <= set(v.VERDICTS)


def test_a_claim_about_an_architecture_left_out_is_unclear_not_an_error():
    t = table()
    t = t[t.index.get_level_values("arch").isin(["vanilla", "deep-128"])]
    claims = v.evaluate_claims(t)
    assert len(claims) == len(v.CLAIMS)
    row = claims[claims["claim (seed)"] == "run a deep512 highest elbo"].iloc[0]
    assert row.verdict == UNCLEAR and "not measured" in row["this run"]
