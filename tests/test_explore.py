"""The exploration module on the tiny study of conftest's ``explore_study``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import vae_core as vc
from vae_report import layout
from vae_report.train import checkpoints
from vae_report.explore import models, own_digit, views
from vae_report.errors import DataError
from vae_report.explore.models import ExploreError
from vae_report.report.seed_reference import SEED_PARAM_COUNTS


def test_available_lists_checkpoints_and_published_weights_not_unfinished_runs(here):
    (here / "checkpoints/t/original/seed-0/deep-256.partial.pt").write_bytes(b"x")
    assert models.available() == ["t/original/seed-0/deep-128", "t/original/seed-0/vanilla",
                                   "t/retrained/seed-0/vanilla"]
    assert models.available("elsewhere") == []


def test_load_takes_the_settings_from_the_checkpoint(here):
    m = models.load("t/original/seed-0/deep-128", device="cpu")
    assert m.params.eval_batch_size == 7 and m.params.batch_size == 8 and m.params.arch == "deep-128"
    assert m.test_x.shape == (20, 784) and len(m.data.train) == 40
    assert m.classifier is not None and m.notes == []
    assert vc.count_parameters(m.model) == SEED_PARAM_COUNTS["deep-128"]
    by_path = models.load(here / "checkpoints/t/original/seed-0/deep-128.pt", device="cpu")
    assert by_path.name == "t/original/seed-0/deep-128"
    for a, b in zip(m.model.parameters(), by_path.model.parameters()):
        assert torch.equal(a, b)


def test_a_model_older_than_a_parameter_takes_its_value_from_the_files(here, tmp_path):
    """Models trained before a parameter existed (the committed study's predate eval_seed and
    check_every) still load: the missing values are params/base.yaml's."""
    import shutil

    shutil.copytree(Path(__file__).resolve().parents[1] / "params", here / "params")
    ckpt = torch.load(here / "checkpoints/t/original/seed-0/vanilla.pt", weights_only=True)
    for key in ("eval_seed", "check_every"):
        del ckpt["meta"]["params"][key]
    old = tmp_path / "old.pt"
    torch.save(ckpt, old)
    m = models.load(old, device="cpu")
    assert (m.params.eval_seed, m.params.check_every) == (1234, 500)
    assert (m.params.profile, m.params.run, m.params.arch) == ("t", "original", "vanilla")


def test_a_model_that_is_not_trained_names_what_is_and_the_command(here):
    with pytest.raises(ExploreError) as err:
        models.load("t/original/seed-3/deep-512")
    text = str(err.value)
    assert "make report PROFILE=t RUNS=original ARCHS=deep-512" in text
    assert "t/original/seed-0/deep-128" in text
    with pytest.raises(ExploreError, match="<profile>/<run>/seed-<n>/<arch>"):
        models.load("deep-512")
    with pytest.raises(ExploreError, match="unknown architecture 'deep-999'"):
        models.load("t/original/seed-0/deep-999")


def test_a_corrupt_or_foreign_file_is_named(here, tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes((here / "checkpoints/t/original/seed-0/vanilla.pt").read_bytes()[:5000])
    with pytest.raises(DataError, match="broken.pt is unreadable"):
        models.load(broken)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(DataError, match="foreign.pt is not a model of this project"):
        models.load(foreign)


def test_published_weights_are_float16_and_load_when_there_is_no_checkpoint(here, explore_study):
    published = layout.published_model_path("t", "retrained", 0, "vanilla")
    saved = torch.load(published, weights_only=True)
    assert set(saved) == set(checkpoints.PUBLISHED_KEYS)
    assert saved["model"]["encoder_head.weight"].dtype == torch.float16
    assert saved["model"]["decoder_raw_std"].dtype == torch.float32       # σ kept exact
    m = models.load("t/retrained/seed-0/vanilla", device="cpu")
    assert m.source == published and any("float16" in n for n in m.notes)
    full, _ = checkpoints.load_model(explore_study[2])
    for (name, a), b in zip(full.named_parameters(), m.model.parameters()):
        # float16 keeps 11 significant bits: a relative error ≤ 2⁻¹¹ per weight (normal range)
        assert torch.allclose(a, b, rtol=2 ** -11, atol=2 ** -24), name


def test_interpolation_runs_from_one_digit_to_the_other(here):
    m = models.load("t/original/seed-0/deep-128", device="cpu")
    view = views.interpolation(m, 3, 11, steps=6)
    z = m.model.encode(torch.stack([m.test_image(3), m.test_image(11)])).mean
    ends = m.model.decode(z).detach().numpy()
    for method in ("linear", "slerp"):
        frames = view.arrays[method]
        assert frames["images"].shape == (6, 784) and frames["classes"].shape == (6,)
        assert np.all((0 <= frames["classes"]) & (frames["classes"] <= 9))
        assert np.all((0.1 <= frames["confidence"]) & (frames["confidence"] <= 1))
        # both paths start and end at the two posterior means' decodings (float32 sin/arccos)
        np.testing.assert_allclose(frames["images"][[0, -1]], ends, atol=1e-4)
    # the paths differ in between unless the two means are parallel
    assert not np.allclose(view.arrays["linear"]["images"][3], view.arrays["slerp"]["images"][3])
    with pytest.raises(ExploreError, match="test image 20 is out of range.*20 test images, 0–19"):
        views.interpolation(m, 0, 20)


def test_slerp_keeps_the_norm_between_vectors_of_equal_length():
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    path = views._slerp(a, b, torch.linspace(0, 1, 5))
    torch.testing.assert_close(path.norm(dim=1), torch.full((5,), 3.0))
    torch.testing.assert_close(path[2], torch.tensor([3.0, 3.0]) / 2 ** 0.5)
    same = views._slerp(a, a, torch.linspace(0, 1, 3))      # parallel: the linear path
    torch.testing.assert_close(same, a.repeat(3, 1))


def test_traversal_orders_rows_by_kl_and_marks_active_and_collapsed(here):
    m = models.load("t/original/seed-0/deep-128", device="cpu")
    view = views.traversal(m, "all", index=2, span=2.0, values=5)
    a = view.arrays
    assert a["images"].shape == (64, 5, 784) and list(a["values"]) == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert np.all(np.diff(a["kl"]) <= 0) and sorted(a["dims"]) == list(range(64))
    info = m.collapse()
    np.testing.assert_array_equal(a["collapsed"], info["kl"][a["dims"]].numpy() < 0.01)
    np.testing.assert_array_equal(a["active"], info["activity"][a["dims"]].numpy() > 0.01)
    # a row is the decoder at the image's posterior mean with its dimension set to each value
    d = int(a["dims"][0])
    z = m.model.encode(m.test_image(2)[None]).mean.detach().repeat(5, 1)
    z[:, d] = torch.tensor(a["values"])
    np.testing.assert_allclose(a["images"][0], m.model.decode(z).detach().numpy(), atol=1e-6)
    one = views.traversal(m, 5, index=None, values=3)
    assert one.arrays["images"].shape == (1, 3, 784) and list(one.arrays["dims"]) == [5]
    with pytest.raises(ExploreError, match=r"out of range; the latent space has 64 dimensions"):
        views.traversal(m, [3, 64])


def test_chain_frames_carry_class_confidence_and_distance(here):
    m = models.load("t/original/seed-0/deep-128", device="cpu")
    view = views.chain(m, index=4, steps=7, seed=1)
    a = view.arrays
    assert a["means"].shape == (8, 784) and a["draws"].shape == (8, 784)
    np.testing.assert_array_equal(a["means"][0], m.test_image(4).numpy())   # frame 0: the start
    assert a["sigma"] == pytest.approx(m.model.sigma())
    assert a["classes"].shape == a["confidence"].shape == a["nn_distance"].shape == (8,)
    # the distance of frame 0 is that of the test image to its nearest training image
    nearest = torch.cdist(m.test_image(4)[None].double(), m.data.train.double()).min()
    assert a["nn_distance"][0] == pytest.approx(float(nearest), rel=1e-5)
    again = views.chain(m, index=4, steps=7, seed=1)
    np.testing.assert_array_equal(again.arrays["draws"], a["draws"])          # seeded
    assert "step 3: class" in views.chain_label(view, 3)
    with pytest.raises(ExploreError, match="frames 0–7"):
        views.chain_frame(m, view, 8)


def test_pca_finds_the_axis_of_largest_variance():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2000, 3, generator=g) * torch.tensor([0.1, 5.0, 1.0])
    coords, explained = views.pca_2d(z)
    assert coords.shape == (2000, 2)
    assert explained[0] == pytest.approx(25 / 26.01, abs=0.02) and explained[0] > explained[1]
    torch.testing.assert_close(coords[:, 0].abs(), (z[:, 1] - z[:, 1].mean()).abs().double(),
                               atol=0.1, rtol=0.02)


def test_latent_map_and_compare(here):
    deep = models.load("t/original/seed-0/deep-128", device="cpu")
    flat = models.load("t/original/seed-0/vanilla", device="cpu")
    view = views.latent_map(deep)
    assert view.arrays["coords"].shape == (20, 2) and view.arrays["labels"].shape == (20,)
    assert 0 <= view.arrays["explained"][1] <= view.arrays["explained"][0] <= 1
    both = views.compare([deep, flat], indices=[0, 5, 7])
    assert both.arrays["reconstructions"].shape == (2, 3, 784)
    assert both.arrays["elbo"].shape == (2, 3) and both.arrays["names"][1] == flat.name
    np.testing.assert_array_equal(both.arrays["originals"][1], deep.test_image(5).numpy())
    with pytest.raises(ExploreError, match="at least one model"):
        views.compare([])


def test_your_own_digit_is_converted_with_notes(here, tmp_path):
    # a dark "1" on white paper, in colour, 56 × 40 pixels
    pixels = np.full((56, 40, 3), 250, dtype=np.uint8)
    pixels[8:48, 18:23] = (20, 20, 30)
    Image.fromarray(pixels, "RGB").save(tmp_path / "one.png")
    x, notes = own_digit.load_image(tmp_path / "one.png")
    assert x.shape == (784,) and float(x.max()) <= 1 and float(x.min()) >= 0
    assert len(notes) == 3 and "greyscale" in notes[0] and "inverted" in notes[1]
    assert "cropped to the digit, scaled into 20 × 20 and centred in 28 × 28" in notes[2]
    # as MNIST's: the stroke, light on black, 20 pixels tall, its centre of mass in the middle
    ink = x.reshape(28, 28)
    rows = torch.nonzero(ink.amax(1) > 0.5).flatten()
    assert int(rows.max() - rows.min() + 1) == 20 and float(ink[14, 14]) > 0.8
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    assert abs(float((ys * ink).sum() / ink.sum()) - 14) <= 1
    assert abs(float((xs * ink).sum() / ink.sum()) - 14) <= 1
    m = models.load("t/original/seed-0/deep-128", device="cpu")
    view = own_digit.own_digit(m, tmp_path / "one.png", dims=4, values=5)
    assert view.arrays["traversal"].shape == (4, 5, 784) and len(view.notes) == 3
    mnist_like = np.zeros(784, np.float32)                  # 784 pixels in [0, 1], light on black
    mnist_like[300:320] = 1.0
    x, notes = own_digit.load_image(mnist_like)
    assert notes == [] and torch.equal(x, torch.from_numpy(mnist_like))
    (tmp_path / "notes.png").write_text("not a picture")
    with pytest.raises(ExploreError, match="notes.png is not a picture Pillow can read"):
        own_digit.load_image(tmp_path / "notes.png")
    Image.fromarray(np.full((40, 40), 200, np.uint8)).save(tmp_path / "blank.png")
    with pytest.raises(ExploreError, match="blank.png is blank"):
        own_digit.load_image(tmp_path / "blank.png")
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "dot.png")
    with pytest.raises(ExploreError, match="5 × 5 pixels; a digit needs at least 8 × 8"):
        own_digit.load_image(tmp_path / "dot.png")


def test_views_have_figures_that_render(here):
    m = models.load("t/original/seed-0/vanilla", device="cpu")
    for view in (views.interpolation(m, 0, 1, steps=3), views.traversal(m, [0, 1]),
                 views.chain(m, steps=3), views.latent_map(m)):
        png = views.figure_png(view.figure)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
