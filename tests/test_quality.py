"""The digit classifier and the measures built on it: Fréchet distance, nearest-image distance,
chain mixing, and the IWAE-vs-K curve."""
import math

import pytest
import torch

import vae_core as vc


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 3, generator=g)
    b = torch.randn(20000, 3, generator=g) * 2.0 + torch.tensor([1.0, 0.0, -1.0])
    # N(0, I) vs N(m, 4I): |m|² + tr(I + 4I − 2·2I) = 2 + 3
    assert vc.frechet_distance(a, b) == pytest.approx(5.0, rel=0.05)
    assert vc.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert vc.frechet_distance(a, b) == pytest.approx(vc.frechet_distance(b, a), rel=1e-6)


def test_nearest_distance_is_the_brute_force_minimum():
    g = torch.Generator().manual_seed(1)
    x, ref = torch.rand(7, 784, generator=g), torch.rand(50, 784, generator=g)
    expected = torch.stack([(ref - row).norm(dim=1).min() for row in x])
    assert torch.allclose(vc.nearest_distance(x, ref, batch_size=16), expected, atol=1e-4)
    assert float(vc.nearest_distance(ref[:3], ref)[0]) == pytest.approx(0.0, abs=1e-3)


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
    net, log = vc.train_classifier(vc.ClassifierConfig(epochs=2, batch_size=32), x, y, vx, vy, path)
    assert not log["cached"] and len(log["val_accuracy"]) == 2
    assert vc.classifier_accuracy(net, vx, vy) > 0.9               # chance is 0.1
    again, log2 = vc.train_classifier(vc.ClassifierConfig(epochs=2, batch_size=32), x, y, vx, vy, path)
    assert log2["cached"]
    assert torch.equal(again(vx), net(vx))
    _, log3 = vc.train_classifier(vc.ClassifierConfig(epochs=1, batch_size=32), x, y, vx, vy, path)
    assert not log3["cached"] and len(log3["val_accuracy"]) == 1
    loaded = vc.load_classifier(path)
    judged = vc.classify(loaded, torch.cat([vx[:5], torch.full((1, 784), float("nan"))]))
    assert judged["classes"].shape == (6,) and judged["features"].shape == (6, 128)
    assert ((judged["confidence"] > 0) & (judged["confidence"] <= 1)).all()


def test_missing_or_outdated_classifier_names_the_notebook(tmp_path):
    with pytest.raises(FileNotFoundError, match="00-classifier"):
        vc.load_classifier(tmp_path / "none.pt")
    old = tmp_path / "old.pt"
    torch.save({"model": {}, "config": {"epochs": 1}, "log": {}}, old)   # made before `design`
    with pytest.raises(vc.DataError, match="another design.*00-classifier"):
        vc.load_classifier(old)


def test_chain_mixing_counts_class_changes():
    x, _ = _digits(20)
    net = vc.DigitClassifier()
    torch.manual_seed(0)
    model = vc.build_model("vanilla")
    chain = vc.markov_chain(model, x[:3], steps=5, seed=0)
    m = vc.chain_mixing(chain, net, x)
    classes = torch.tensor(m["frame_classes"])
    assert classes.shape == (3, 6)                                   # [B, T+1]
    changes = (classes[:, 1:] != classes[:, :-1]).sum(1).float().mean()
    assert m["class_switches_per_chain"] == pytest.approx(float(changes))
    assert m["start_mean_nn_distance"] == pytest.approx(0.0, abs=1e-3)   # starts are in the reference
    assert torch.tensor(m["frame_nn_distance"]).shape == (3, 6)


def test_iwae_curve_starts_at_the_elbo_and_rises(blobs):
    torch.manual_seed(0)
    model = vc.build_model("deep-128")
    curve = vc.iwae_curve(model, blobs[:50], [1, 10, 100], seed=0)
    assert list(curve) == [1, 10, 100]
    assert curve[1] < curve[10] < curve[100]
    elbo = vc.evaluate_elbo(model, blobs[:50], seed=3)["elbo"]
    assert math.isclose(curve[1], elbo, rel_tol=0.02)
