"""Each claim's rule driven to each verdict on small synthetic tables (report.metrics_table's
shape: one row per (run, seed, arch)), including a margin that holds in every seed but is within
the seeds' noise (unclear)."""
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
        "collapsed_kl_0.005": lambda r, s, a: 5, "collapsed_kl_0.01": lambda r, s, a: 5,
        "collapsed_kl_0.02": lambda r, s, a: 5, "min_dim_kl": lambda r, s, a: 0.001,
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


CLEAR, NOISY, AGAINST = [5.0, 6.0, 7.0], [0.2, 9.0, 4.0], [-5.0, -6.0, -7.0]


def per_seed(values):
    """A function of the seed: ``values[seed]``."""
    return lambda s: values[s]


def test_margin_rule():
    assert v.margin_verdict(CLEAR) == REPRODUCED
    assert v.margin_verdict(AGAINST) == NOT_REPRODUCED
    # holds in every seed, but 0.2 / 9 / 4 has mean 4.4 < 2 sd (8.8): within the noise
    assert v.margin_verdict(NOISY) == UNCLEAR
    assert v.margin_verdict([-1.0, 5.0, 6.0]) == UNCLEAR                  # the seeds disagree
    assert v.margin_verdict([3.0, 3.0]) == REPRODUCED                     # no spread at all
    assert v.margin_verdict([5.0]) == UNCLEAR                             # one seed: no noise known
    assert v.margin_verdict([1.0, float("nan")]) == UNCLEAR
    with pytest.raises(ValueError):
        v.margin_verdict([])
    assert v.margin_text([1.0, 2.0, 3.0], "nats") == "+2.0 ± 1.0 nats"
    assert v.margin_text([-0.5], "dims") == "-0.5 dims (one seed)"
    assert v.margin_text([2.0, 2.0], "") == "+2.0 ± 0.0"


def test_combining_runs_and_yes_no_claims():
    assert v.all_of([REPRODUCED, REPRODUCED]) == REPRODUCED
    assert v.all_of([REPRODUCED, UNCLEAR]) == UNCLEAR
    assert v.all_of([UNCLEAR, NOT_REPRODUCED]) == NOT_REPRODUCED
    assert v.across_seeds([True, True]) == REPRODUCED
    assert v.across_seeds([False]) == NOT_REPRODUCED
    assert v.across_seeds([True, False, True]) == UNCLEAR
    with pytest.raises(ValueError):
        v.across_seeds([])


def _winner(arch, run, margins):
    """test_elbo: ``arch`` ahead of the best other (vanilla, at −800) by ``margins[seed]`` in
    ``run``; elsewhere the default order (vanilla best, the deepest worst)."""
    return lambda r, s, a: -800.0 + margins[s] if (r == run and a == arch) else -800.0 - ARCHS.index(a)


@pytest.mark.parametrize("rule,arch,run", [
    (v.run_a_deep512_highest_elbo, "deep-512", "original"),
    (v.run_b_deep256_highest_elbo, "deep-256", "retrained"),
])
def test_a_model_has_the_highest_elbo(rule, arch, run):
    assert outcome(rule, test_elbo=_winner(arch, run, CLEAR)) == REPRODUCED
    assert outcome(rule, test_elbo=_winner(arch, run, AGAINST)) == NOT_REPRODUCED
    assert outcome(rule, test_elbo=_winner(arch, run, NOISY)) == UNCLEAR
    claim = rule(table(test_elbo=_winner(arch, run, CLEAR)))
    assert claim.margin == "+6.0 ± 1.0 nats" and "+5.0 / +6.0 / +7.0" in claim.evidence


def test_run_a_wider_is_better():
    def steps(margins):   # 128 < 256 < 512 by margins[seed] each
        return lambda r, s, a: -800.0 + margins[s] * {"deep-128": 1, "deep-256": 2,
                                                      "deep-512": 3}.get(a, 0)
    assert outcome(v.run_a_wider_is_better, test_elbo=steps(CLEAR)) == REPRODUCED
    assert outcome(v.run_a_wider_is_better, test_elbo=steps(AGAINST)) == NOT_REPRODUCED
    assert outcome(v.run_a_wider_is_better, test_elbo=steps(NOISY)) == UNCLEAR


def test_run_a_deepest_lowest_elbo():
    def deepest_below(margins):   # the deepest below the worst other (deep-512-256, −805)
        return lambda r, s, a: (-805.0 - margins[s]) if a == DEEPEST else -800.0 - ARCHS.index(a)
    rule = v.run_a_deepest_lowest_elbo
    assert outcome(rule, test_elbo=deepest_below(CLEAR)) == REPRODUCED
    assert outcome(rule, test_elbo=deepest_below(AGAINST)) == NOT_REPRODUCED
    assert outcome(rule, test_elbo=deepest_below(NOISY)) == UNCLEAR


def test_the_tighter_bound_lifting_the_deepest_model():
    rule = v.tighter_bound_lifts_deepest
    lifted = lambda r, s, a: -790.0 + 10 if a == DEEPEST else -790.0 - ARCHS.index(a)   # rank 1
    assert outcome(rule) == NOT_REPRODUCED                  # rank 7 by both in every seed
    assert outcome(rule, test_iwae=lifted) == REPRODUCED     # rank 7 by ELBO → 1 by IWAE
    # lifted in one seed only
    assert outcome(rule, test_iwae=lambda r, s, a: lifted(r, s, a) if s == 0
                   else -790.0 - ARCHS.index(a)) == UNCLEAR
    # the ELBO ranks the deepest first, the IWAE last: the opposite, in every seed
    assert outcome(rule, test_elbo=lifted, test_iwae=lambda r, s, a: -790.0 - ARCHS.index(a)) \
        == NOT_REPRODUCED
    stats = v.elbo_vs_iwae(table(test_iwae=lifted), "original")
    assert stats["best by ELBO"] == "vanilla" and stats["best by IWAE"] == DEEPEST


def test_likelihood_and_sample_quality_disagree():
    rule = v.likelihood_and_quality_disagree
    sharpest = lambda r, s, a: 1.0 if a == DEEPEST else 10.0 + ARCHS.index(a)
    assert outcome(rule, frechet_distance=sharpest) == REPRODUCED   # worst IWAE, best samples
    assert outcome(rule) == NOT_REPRODUCED                           # both rank it last
    worst_samples = lambda r, s, a: 99.0 if a == DEEPEST else 10.0
    best_iwae = lambda r, s, a: -700.0 if a == DEEPEST else -790.0 - ARCHS.index(a)
    assert outcome(rule, test_iwae=best_iwae, frechet_distance=worst_samples) == NOT_REPRODUCED
    assert "Theis" in rule(table()).evidence


@pytest.mark.parametrize("arch", ["vanilla", "deep-512"])
def test_no_collapsed_dimensions(arch):
    rule = v.no_collapsed_dimensions(arch)
    def smallest_kl(values):
        return lambda r, s, a: values[s] if a == arch else 0.001
    assert outcome(rule) == NOT_REPRODUCED                                   # 0.001 < 0.01
    assert outcome(rule, min_dim_kl=smallest_kl([0.5, 0.6, 0.7])) == REPRODUCED
    # a dimension just above the threshold in one seed: within the noise
    assert outcome(rule, min_dim_kl=smallest_kl([0.0101, 0.5, 0.9])) == UNCLEAR
    # both runs are claimed: holding in run A only is a failure
    assert outcome(rule, min_dim_kl=lambda r, s, a: 0.5 if (a == arch and r == "original")
                   else 0.001) == NOT_REPRODUCED


def _collapsed(deepest, others=5):
    cols = {}
    for t in ("0.005", "0.01", "0.02"):
        cols[f"collapsed_kl_{t}"] = lambda r, s, a: deepest[s] if a == DEEPEST else others
    return cols


def test_deepest_most_collapsed_at_every_threshold():
    rule = v.deepest_most_collapsed
    assert outcome(rule, **_collapsed([40, 41, 42])) == REPRODUCED
    assert outcome(rule, **_collapsed([0, 1, 0])) == NOT_REPRODUCED
    assert outcome(rule, **_collapsed([6, 40, 20])) == UNCLEAR            # noisy lead
    # most collapsed at 0.01 but not at 0.02: not robust to the threshold
    cols = _collapsed([40, 41, 42])
    cols["collapsed_kl_0.02"] = lambda r, s, a: 40 if a == DEEPEST else 50
    assert outcome(rule, **cols) == NOT_REPRODUCED


def test_run_b_deepest_mostly_collapsed():
    rule = v.run_b_deepest_mostly_collapsed
    assert outcome(rule, **_collapsed([50, 51, 52])) == REPRODUCED
    assert outcome(rule, **_collapsed([10, 11, 12])) == NOT_REPRODUCED
    assert outcome(rule, **_collapsed([32, 32, 32])) == NOT_REPRODUCED    # "more than 32"
    assert outcome(rule, **_collapsed([33, 50, 60])) == UNCLEAR


def test_validation_follows_training():
    rule = v.validation_follows_training
    assert outcome(rule, final_gap=lambda r, s, a: 0.01) == REPRODUCED
    assert outcome(rule) == NOT_REPRODUCED                                  # 5 % gaps
    assert outcome(rule, final_gap=lambda r, s, a: [0.0199, 0.001, 0.01][s]) == UNCLEAR


def test_batch16_breaks_the_chain():
    rule = v.batch16_breaks_the_chain
    broken_a = lambda r, s, a: not (r == "original" and a == DEEPEST)
    assert outcome(rule, chain_finite=broken_a) == REPRODUCED
    assert outcome(rule) == NOT_REPRODUCED                                  # all finite
    assert outcome(rule, chain_finite=lambda r, s, a: broken_a(r, s, a) if s == 0 else True) == UNCLEAR
    assert rule(table(chain_finite=broken_a)).margin.startswith("run A: holds in 3 of 3 seeds")


def test_deepest_samples_most_digit_like():
    rule = v.deepest_samples_most_digit_like
    def fd(margins):   # the deepest below the best other (vanilla, 10) by margins[seed]
        return lambda r, s, a: 10.0 - margins[s] if a == DEEPEST else 10.0 + ARCHS.index(a)
    assert outcome(rule, frechet_distance=fd([5.0, 6.0, 7.0])) == REPRODUCED
    assert outcome(rule) == NOT_REPRODUCED                                  # vanilla lowest
    assert outcome(rule, frechet_distance=fd([0.2, 9.0, 4.0])) == UNCLEAR


def test_run_b_deepest_chain_clearest():
    rule = v.run_b_deepest_chain_clearest
    def conf(lead):
        return lambda r, s, a: 0.5 + lead[s] if a == DEEPEST else 0.5
    assert outcome(rule, chain_confidence=conf([0.3, 0.31, 0.32])) == REPRODUCED
    assert outcome(rule, chain_confidence=conf([-0.3, -0.31, -0.32])) == NOT_REPRODUCED
    assert outcome(rule, chain_confidence=conf([0.01, 0.4, 0.2])) == UNCLEAR


def test_run_b_deepest_chain_morphs():
    rule = v.run_b_deepest_chain_morphs
    assert outcome(rule, class_switches=lambda r, s, a: 2.0) == REPRODUCED
    assert outcome(rule, class_switches=lambda r, s, a: [1.05, 4.0, 2.0][s]) == UNCLEAR
    assert outcome(rule) == NOT_REPRODUCED                                  # never changes class


def test_every_claim_is_judged_with_a_margin_and_one_seed_is_never_conclusive():
    claims = v.evaluate_claims(table())
    assert list(claims.columns) == ["claim (seed)", "this run", "margin (mean ± sd)", "verdict"]
    assert len(claims) == len(v.CLAIMS) == 15
    assert set(claims.verdict) <= set(v.VERDICTS) and all(claims["margin (mean ± sd)"])
    one = v.evaluate_claims(table(seeds=(0,)))
    margin_rows = one[~one["claim (seed)"].str.startswith("Batch 16")]
    assert set(margin_rows.verdict) == {UNCLEAR}
    assert all("(one seed)" in m for m in margin_rows["margin (mean ± sd)"])


def test_a_claim_about_an_architecture_left_out_is_unclear_not_an_error():
    t = table()
    t = t[t.index.get_level_values("arch").isin(["vanilla", "deep-128"])]
    claims = v.evaluate_claims(t)
    assert len(claims) == len(v.CLAIMS)
    row = claims[claims["claim (seed)"] == "run a deep512 highest elbo"].iloc[0]
    assert row.verdict == UNCLEAR and "not measured" in row["this run"]
    one_run = table()
    one_run = one_run[one_run.index.get_level_values("run") == "retrained"]
    claims = v.evaluate_claims(one_run)
    row = claims[claims["claim (seed)"] == "run a deep512 highest elbo"].iloc[0]
    assert row.verdict == UNCLEAR and "not measured" in row["this run"]
