"""The report's words: the reproducibility summary, the notes beside the figures and the
discussion, computed from the judged claims and the metrics (synthetic tables)."""
import math

from test_verdicts import table

from vae_report.report import claims, findings, judge, stats
from vae_report.report.evidence import DEEPEST

SEEDS = {"original": [0, 1, 2, 3, 4], "retrained": [0, 1, 2, 3, 4]}


def test_the_summary_is_short_plain_and_computed():
    t = table()
    judged = judge.judge(t)
    paragraphs = findings.summary(judged, t, SEEDS)
    assert [p.split("**")[1] for p in paragraphs] == ["Scope.", "Results.", "Why they differ."]
    assert findings.words(paragraphs) <= findings.SUMMARY_WORDS
    n = {v: sum(j.verdict == v for j in judged) for v in stats.VERDICTS}
    assert (f"{n['reproduced']} claims reproduce, {n['not reproduced']} do not and "
            f"{n['unclear']} are unclear") in paragraphs[1]
    contradicted = [j.claim.claim for j in judged if j.verdict == "not reproduced"]
    assert contradicted and findings._plain(contradicted[0])[1:] in paragraphs[1]
    assert f"judged its {len(claims.CLAIMS)} testable claims" in paragraphs[0]
    # no jargon of this project's own on the first screen
    assert "A′" not in " ".join(paragraphs) and "log σ ≈" not in " ".join(paragraphs)


def test_the_summary_states_the_chain_verdict_or_that_it_is_not_tested():
    t = table(seed_chain_broke=lambda r, s, a: 1.0 if r == "original-exp" else 0.01 * s)
    text = " ".join(findings.summary(judge.judge(t), t, SEEDS))
    assert "batch 64 fixing it is *reproduced*" in text
    t = table(runs=("original", "retrained"))
    text = " ".join(findings.summary(judge.judge(t), t, SEEDS))
    assert "not tested in this rendering" in text and "could not be measured here" in text


def test_rank_agreement_with_the_seeds_table_and_its_p():
    from vae_report.report.seed_reference import SEED_TEST_ELBO
    same = table(test_elbo=lambda r, s, a: SEED_TEST_ELBO.get(r, SEED_TEST_ELBO["original"])[a] * 10 + s)
    rho, p = findings.seed_rank_agreement(same, "original")
    assert math.isclose(rho, 1.0) and math.isclose(p, 2 / 5040)
    rev = table(test_elbo=lambda r, s, a: -SEED_TEST_ELBO["original"][a])
    assert math.isclose(findings.seed_rank_agreement(rev, "original")[0], -1.0)


def test_every_claim_is_discussed_beside_one_figure():
    placed = [k for keys in findings.SECTION_CLAIMS.values() for k in keys]
    assert sorted(placed) == sorted(c.key for c in claims.CLAIMS)
    t = table()
    notes = findings.claim_notes(judge.judge(t), findings.SECTION_CLAIMS["collapse"])
    assert notes.count("- The seed: “") == len(findings.SECTION_CLAIMS["collapse"])
    assert "the vanilla model does not have any collapsed posteriors" in notes


def test_the_sigma_a_seed_value_would_imply():
    # a model whose σ = 0.1 maximises the likelihood: SSE = 784 · 0.01
    sse, kl = 7.84, 20.0
    best = -sse / (2 * 0.01) + findings._norm_term(0.1) - kl
    assert math.isclose(findings.implied_sigma(sse, kl, best), 0.1, rel_tol=1e-6)
    lower = findings.implied_sigma(sse, kl, best - 500.0)
    assert lower > 0.1                                   # on the side above the best σ
    assert math.isnan(findings.implied_sigma(sse, kl, best + 1.0))   # no σ scores higher


def test_the_likelihood_note_names_the_verdicts_that_change():
    lead = lambda r, s, a: {"deep-512": 850.0 + s, "deep-256": 840.0}.get(a, 700.0)   # noqa: E731
    worst = lambda r, s, a: 600.0 + s if a == "deep-512" else 700.0   # noqa: E731
    t = table(test_elbo=lead, test_iwae=lead, test_discrete_log_lik=worst)
    note = findings.likelihood_note(judge.judge(t))
    assert "deep-512 has the highest test ELBO” is reproduced by the ELBO but not reproduced by the 8-bit" in note


def test_the_sigma_floor_note_says_the_floor_does_not_bind():
    note = findings.sigma_floor_note({"vanilla": 0.044, DEEPEST: 0.097})
    assert "0.044 and 0.097, 44–97 × the decoder's floor (0.001" in note and "never bind" in note
    near = findings.sigma_floor_note({"vanilla": 0.003, DEEPEST: 0.097})
    assert "never bind" not in near and "within 3.0 × of its floor" in near


def test_the_decoder_only_variant_keeps_one_sentence(tmp_path):
    import json
    path = tmp_path / "decoder-only-variant.json"
    assert findings.decoder_only_variant(path) == ""
    path.write_text(json.dumps({"study_commit": "437f665abc", "runs": {
        "a": {"models": 9, "log_sigma_min": -3.13, "log_sigma_max": -2.33, "chain_share_ge_1_max": 0.04},
        "b": {"models": 9, "log_sigma_min": -3.11, "log_sigma_max": -2.54, "chain_share_ge_1_max": 0.041}}}))
    line = findings.decoder_only_variant(path)
    assert "18 models" in line and "between -3.13 and -2.33" in line and "at most 4 %" in line


def test_each_of_our_figures_gets_a_computed_sentence():
    from vae_report.report import gather
    study = gather.load_study("full")
    notes = findings.figure_notes(study, study.metrics_table())
    assert set(notes) == {8, 9, 10, 11}
    assert all(text.startswith(f"Figure{'s' if n == 11 else ''} {n}") for n, text in notes.items())
    assert "nats" in notes[8] and "K = 1 to K = 1000" in notes[9] and "%" in notes[10]
