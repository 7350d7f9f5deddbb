"""The report's first screen: computed sentences from the judged claims and the metrics."""
import math

from test_verdicts import table

from vae_report import findings, verdicts
from vae_report.verdicts import DEEPEST


def test_the_first_screen_states_the_tally_the_best_models_and_the_contradictions():
    t = table()
    judged = verdicts.judge(t)
    lines = findings.first_screen(judged, t)
    assert 4 <= len(lines) <= 6
    n = {v: sum(j.verdict == v for j in judged) for v in verdicts.VERDICTS}
    assert lines[0].startswith(f"Of the seed's {len(verdicts.CLAIMS)} checkable claims, "
                               f"**{n['reproduced']} are reproduced, {n['not reproduced']} are not")
    assert "run A: **vanilla**" in lines[1] and "the seed's deep-512" in lines[1]
    contradicted = [j.claim.claim for j in judged if j.verdict == "not reproduced"]
    assert contradicted and all(c in lines[2] for c in contradicted)
    assert "σ = exp(log σ)" in lines[3] and "log σ -2.66" in lines[3]   # log 0.07 = −2.66
    assert "84.6 short of |log σ| ≈ 87.3" in lines[3]                     # 87.3 − |log 0.07|
    assert "best samples vanilla" in lines[4] and "(they agree;" in lines[4]


def test_without_the_variant_runs_the_chain_claims_are_said_untested():
    t = table(runs=("original", "retrained"))
    lines = findings.first_screen(verdicts.judge(t), t)
    assert any("not tested here" in line for line in lines)
    assert "could not be measured" in lines[0]


def test_rank_agreement_with_the_seeds_table():
    # ours ranks exactly as the seed's Table 3 → 1; reversed → −1
    from vae_report.seed_reference import SEED_TEST_ELBO
    same = table(test_elbo=lambda r, s, a: SEED_TEST_ELBO.get(r, SEED_TEST_ELBO["original"])[a] * 10 + s)
    assert math.isclose(findings.seed_rank_agreement(same, "original"), 1.0)
    rev = table(test_elbo=lambda r, s, a: -SEED_TEST_ELBO["original"][a])
    assert math.isclose(findings.seed_rank_agreement(rev, "original"), -1.0)


def test_the_sigma_floor_note_says_the_floor_does_not_bind():
    note = findings.sigma_floor_note({"vanilla": 0.044, DEEPEST: 0.097})
    assert "0.044 and 0.097, 44–97 × the decoder's floor (0.001" in note and "never bind" in note
    near = findings.sigma_floor_note({"vanilla": 0.003, DEEPEST: 0.097})
    assert "never bind" not in near and "within 3.0 × of its floor" in near


def test_the_chain_sentence_follows_the_data_when_sigma_does_collapse():
    import math as m
    t = table(decoder_std=lambda r, s, a: m.exp(-95.0 - s) if r == "original-exp" else 0.07,
              final_saturated=lambda r, s, a: 0.9 + 0.01 * s if r == "original-exp" else 0.01 * s)
    line = findings.chain_mechanism(verdicts.judge(t), t)
    assert "11.7 beyond |log σ| ≈ 87.3" in line                          # 99 − 87.3
    assert "mechanism is *reproduced*" in line and "batch 16 *reproduced*" in line
