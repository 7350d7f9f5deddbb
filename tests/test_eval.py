import torch

import vae_core as vc


def test_sampler_reconstruction_and_chain_shapes():
    torch.manual_seed(0)
    m = vc.build_model("deep-256").eval()
    x = torch.rand(3, 784)
    s = vc.sample_prior(m, 10, seed=0)
    assert s.shape == (10, 784) and torch.all(torch.isfinite(s))
    assert torch.equal(s, vc.sample_prior(m, 10, seed=0))
    r = vc.reconstruct(m, x)
    assert r.shape == (3, 784) and r.min() >= 0 and r.max() <= 1
    chain = vc.markov_chain(m, x, steps=7, seed=0)
    assert chain.samples.shape == (8, 3, 784) and chain.means.shape == (7, 3, 784)
    assert torch.equal(chain.samples[0], x)
    assert torch.all(torch.isfinite(chain.samples))
    d = chain.diagnostics()
    assert d["finite"] and d["first_nonfinite_step"] is None


def test_chain_diagnostics_report_a_broken_chain():
    samples = torch.zeros(4, 2, 784)
    samples[2:, 1, 5] = float("nan")
    d = vc.ChainResult(samples=samples, means=samples[1:]).diagnostics()
    assert d["finite"] is False and d["first_nonfinite_step"] == 2


def test_evaluate_elbo_kl_per_dim_and_determinism(blobs):
    m = vc.build_model("vanilla")
    a = vc.evaluate_elbo(m, blobs[:100], batch_size=30, seed=1)
    b = vc.evaluate_elbo(m, blobs[:100], batch_size=30, seed=1)
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
    n, activity = vc.active_units(m, x)
    assert n == 3 and activity.shape == (64,)
    assert torch.all(activity[3:] == 0)


def test_image_grid_shape_and_nan_handling():
    imgs = torch.rand(10, 784)
    imgs[0, 0] = float("nan")
    grid = vc.image_grid(imgs, nrow=4, pad=2)
    assert grid.shape == (3 * 28 + 4 * 2, 4 * 28 + 5 * 2)
    assert torch.all(torch.isfinite(grid)) and grid.max() <= 1


def test_bits_per_dim():
    assert vc.nats_to_bits_per_dim(-784 * 0.6931471805599453) == 1.0
