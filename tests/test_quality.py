"""The digit classifier and the measures built on it: Fréchet distance, nearest-image distance,
chain mixing, and the IWAE-vs-K curve."""
import math

import pytest
import torch

import vae_core as vc
from vae_report.metrics import chain, classifier, evaluation, iwae, quality
from vae_report.errors import DataError


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 3, generator=g)
    b = torch.randn(20000, 3, generator=g) * 2.0 + torch.tensor([1.0, 0.0, -1.0])
    # N(0, I) vs N(m, 4I): |m|² + tr(I + 4I − 2·2I) = 2 + 3
    assert quality.frechet_distance(a, b) == pytest.approx(5.0, rel=0.05)
    assert quality.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert quality.frechet_distance(a, b) == pytest.approx(quality.frechet_distance(b, a), rel=1e-6)


def test_nearest_distance_is_the_brute_force_minimum():
    g = torch.Generator().manual_seed(1)
    # 50 reference rows: past the 25 rows where torch.cdist switches to its matmul formula
    x, ref = torch.rand(7, 784, generator=g), torch.rand(50, 784, generator=g)
    expected = torch.stack([(ref.double() - row.double()).norm(dim=1).min() for row in x]).float()
    assert torch.allclose(quality.nearest_distance(x, ref, batch_size=16), expected, atol=1e-4)
    assert float(quality.nearest_distance(ref[:3], ref)[0]) == pytest.approx(0.0, abs=1e-3)


def test_nearest_distance_is_exact_where_the_matmul_formula_cancels():
    """Rows at distance 0 and rows almost equal to each other (d = 1e-3 on norms ≈ 16): the
    float32 GEMM formula alone is off by up to ~1e-2 here; the result must be exact."""
    g = torch.Generator().manual_seed(2)
    ref = torch.rand(300, 784, generator=g)
    near = ref[:40].clone()
    near[:, 0] += 1e-3                                        # each 1e-3 from its own row
    x = torch.cat([ref[40:80], near])
    got = quality.nearest_distance(x, ref, batch_size=64)
    assert torch.all(got[:40] == 0)
    torch.testing.assert_close(got[40:], torch.full((40,), 1e-3), rtol=1e-3, atol=0)
    brute = torch.cdist(x.double(), ref.double(), compute_mode="donot_use_mm_for_euclid_dist")
    torch.testing.assert_close(got.double(), brute.min(1).values, rtol=1e-6, atol=1e-9)


def _digits(n, seed=0):
    """Ten fixed random prototypes ('digits') plus noise, and their labels."""
    g = torch.Generator().manual_seed(seed)
    protos = (torch.rand(10, 784, generator=torch.Generator().manual_seed(99)) > 0.6).float()
    y = torch.arange(n) % 10
    return (protos[y] * 0.8 + 0.2 * torch.rand(n, 784, generator=g)).clamp(0, 1), y


def test_classifier_learns_caches_and_retrains_on_a_new_config(tmp_path):
    x, y = _digits(400)
    vx, vy = _digits(100, seed=1)
    path = tmp_path / "clf.pt"
    cfg = classifier.ClassifierConfig(epochs=2, batch_size=32)
    net, log = classifier.train_classifier(cfg, x, y, vx, vy, path)
    assert not log["cached"] and len(log["val_accuracy"]) == 2
    assert classifier.classifier_accuracy(net, vx, vy) > 0.9               # chance is 0.1
    again, log2 = classifier.train_classifier(cfg, x, y, vx, vy, path)
    assert log2["cached"]
    assert torch.equal(again(vx), net(vx))
    _, log3 = classifier.train_classifier(classifier.ClassifierConfig(epochs=1, batch_size=32),
                                          x, y, vx, vy, path)
    assert not log3["cached"] and len(log3["val_accuracy"]) == 1
    loaded = classifier.load_classifier(path)
    judged = classifier.classify(loaded, torch.cat([vx[:5], torch.full((1, 784), float("nan"))]))
    assert judged["classes"].shape == (6,) and judged["features"].shape == (6, 128)
    assert ((judged["confidence"] > 0) & (judged["confidence"] <= 1)).all()


def test_missing_outdated_or_corrupt_classifier_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="00-classifier"):
        classifier.load_classifier(tmp_path / "none.pt")
    old = tmp_path / "old.pt"
    torch.save({"model": {}, "config": {"epochs": 1}, "log": {}}, old)   # made before `design`
    with pytest.raises(DataError, match="another design.*00-classifier"):
        classifier.load_classifier(old)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match=r"corrupt\.pt is unreadable.*delete it and rerun "
                                        r"notebooks/00-classifier"):
        classifier.load_classifier(corrupt)


def test_an_unreadable_classifier_cache_is_retrained(tmp_path, capsys):
    x, y = _digits(100)
    path = tmp_path / "clf.pt"
    path.write_bytes(b"not a torch file")
    net, log = classifier.train_classifier(classifier.ClassifierConfig(epochs=1, batch_size=32),
                                           x, y, x, y, path)
    assert not log["cached"] and "unreadable" in capsys.readouterr().err
    classifier.load_classifier(path)                                      # rewritten, readable


def test_chain_mixing_counts_class_changes():
    x, _ = _digits(20)
    net = classifier.DigitClassifier()
    torch.manual_seed(0)
    model = vc.build_model("vanilla")
    c = chain.markov_chain(model, x[:3], steps=5, seed=0)
    m = quality.chain_mixing(c, net, x)
    classes = torch.tensor(m["frame_classes"])
    assert classes.shape == (3, 6)                                   # [B, T+1]
    changes = (classes[:, 1:] != classes[:, :-1]).sum(1).float().mean()
    assert m["class_switches_per_chain"] == pytest.approx(float(changes))
    assert m["start_mean_nn_distance"] == 0.0                        # starts are in the reference
    assert torch.tensor(m["frame_nn_distance"]).shape == (3, 6)


def test_iwae_curve_starts_at_the_elbo_and_rises(blobs):
    torch.manual_seed(0)
    model = vc.build_model("deep-128")
    curve = iwae.iwae_curve(model, blobs[:50], [1, 10, 100], seed=0)
    assert list(curve) == [1, 10, 100]
    assert curve[1] < curve[10] < curve[100]
    elbo = evaluation.evaluate_elbo(model, blobs[:50], seed=3)["elbo"]
    assert math.isclose(curve[1], elbo, rel_tol=0.02)


def test_morphing_is_told_apart_from_fading():
    """Three chains of 4 frames: one draws a 7 then a 3 (morphs), one loses its ink while its
    faint frames are classified anyhow (fades, its class changes do not count), one stays a 1."""
    from vae_report.metrics.quality import morphs_and_fades

    classes = torch.tensor([[7, 7, 3, 3], [2, 2, 5, 8], [1, 1, 1, 1]])
    confidence = torch.tensor([[0.99, 0.98, 0.97, 0.99], [0.99, 0.95, 0.95, 0.95],
                               [0.99, 0.99, 0.99, 0.99]])
    ink = torch.tensor([[0.13, 0.12, 0.12, 0.11], [0.13, 0.10, 0.05, 0.01],
                        [0.10, 0.10, 0.10, 0.10]])
    out = morphs_and_fades(classes, confidence, ink)
    assert out == {"morphing_chains": 1 / 3, "fading_chains": 1 / 3}
    # an unsure frame of another class is not a morph
    unsure = confidence.clone()
    unsure[0, 2:] = 0.5
    assert morphs_and_fades(classes, unsure, ink)["morphing_chains"] == 0.0
