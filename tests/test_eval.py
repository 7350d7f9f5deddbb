import pytest
import torch

import vae_core as vc
from vae_report.metrics import chain, evaluation
from vae_report import pictures


def test_sampler_reconstruction_and_chain_shapes():
    torch.manual_seed(0)
    m = vc.build_model("deep-256").eval()
    x = torch.rand(3, 784)
    s = evaluation.sample_prior(m, 10, seed=0)
    assert s.shape == (10, 784) and torch.all(torch.isfinite(s))
    assert torch.equal(s, evaluation.sample_prior(m, 10, seed=0))
    r = evaluation.reconstruct(m, x)
    assert r.shape == (3, 784) and r.min() >= 0 and r.max() <= 1
    c = chain.markov_chain(m, x, steps=7, seed=0)
    assert c.samples.shape == (8, 3, 784) and c.means.shape == (7, 3, 784)
    assert torch.equal(c.samples[0], x)
    assert torch.all(torch.isfinite(c.samples))
    assert c.frames().shape == (8, 3, 784) and torch.equal(c.frames()[1:], c.means)
    d = c.diagnostics()
    assert d["finite"] and d["first_nonfinite_step"] is None


def test_chain_states_are_decoder_samples_around_the_means():
    """x_t = mean_t + sigma·eps: the states' spread around the means is the decoder's sigma."""
    torch.manual_seed(0)
    m = vc.build_model("vanilla").eval()
    with torch.no_grad():
        m.decoder_raw_std.fill_(vc.inverse_positive_std(0.2, vc.DECODER_STD_FLOOR))
    c = chain.markov_chain(m, torch.rand(8, 784), steps=5, seed=1)
    noise = (c.samples[1:] - c.means).flatten()                    # 5·8·784 draws
    assert float(noise.std()) == pytest.approx(0.2, rel=0.02)      # 31k draws: se ≈ 0.4 %


def test_chain_diagnostics_report_a_broken_chain():
    samples = torch.zeros(4, 2, 784)
    samples[2:, 1, 5] = float("nan")
    d = chain.ChainResult(samples=samples, means=samples[1:]).diagnostics()
    assert d["finite"] is False and d["first_nonfinite_step"] == 2


def test_evaluate_elbo_kl_per_dim_and_determinism(blobs):
    m = vc.build_model("vanilla")
    a = evaluation.evaluate_elbo(m, blobs[:100], batch_size=30, seed=1)
    b = evaluation.evaluate_elbo(m, blobs[:100], batch_size=30, seed=1)
    assert a == b
    assert len(a["kl_per_dim"]) == 64 and min(a["kl_per_dim"]) >= 0
    assert abs(sum(a["kl_per_dim"]) - a["kl"]) < 1e-6
    assert abs(a["elbo"] - (a["log_lik"] - a["kl"])) < 1e-6


def test_active_units_counts_units_whose_mean_varies():
    m = vc.build_model("vanilla")
    with torch.no_grad():
        m.encoder_head.weight.zero_()
        m.encoder_head.bias.zero_()
        m.encoder_head.weight[:3, :] = 0.2   # only the first 3 mean units depend on x
    x = torch.rand(500, 784)
    n, activity = evaluation.active_units(m, x)
    assert n == 3 and activity.shape == (64,)
    assert torch.all(activity[3:] == 0)


def test_image_grid_shape_and_nan_handling():
    imgs = torch.rand(10, 784)
    imgs[0, 0] = float("nan")
    imgs[1, 0] = float("inf")
    imgs[2, 0] = float("-inf")
    grid = pictures.image_grid(imgs, nrow=4, pad=2)
    assert grid.shape == (3 * 28 + 4 * 2, 4 * 28 + 5 * 2)
    assert torch.all(torch.isfinite(grid)) and grid.max() <= 1
    u8 = pictures.to_uint8_images(imgs)
    assert u8.shape == (10, 28, 28) and u8[0, 0, 0] == 255 and u8[1, 0, 0] == 255 and u8[2, 0, 0] == 0


def test_bits_per_dim():
    assert evaluation.nats_to_bits_per_dim(-784 * 0.6931471805599453) == pytest.approx(1.0, rel=1e-15)
