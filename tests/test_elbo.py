"""The one ELBO (vae_core) and the importance-weighted bound checked against its pieces."""
import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

import vae_core as vc
from vae_report.metrics import evaluation, iwae


def test_gaussian_log_likelihood_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    x, mean = torch.rand(4, 784, generator=g), torch.rand(4, 784, generator=g)
    for std in (0.05, 0.3, 2.0):
        ours = vc.gaussian_log_likelihood(x, mean, torch.tensor(std))
        # reference in float64; ours sums 784 float32 terms of one sign, so its relative error
        # is at most γ_784 ≈ 784·2⁻²⁴ ≈ 4.7e-5 plus a few roundings per term
        ref = Normal(mean.double(), std).log_prob(x.double()).sum(-1)
        torch.testing.assert_close(ours.double(), ref, rtol=1e-4, atol=1e-4)
    per_pixel = torch.rand(784, generator=g) + 0.05       # the general, broadcast form
    ref = Normal(mean.double(), per_pixel.double()).log_prob(x.double()).sum(-1)
    torch.testing.assert_close(vc.gaussian_log_likelihood(x, mean, per_pixel).double(), ref,
                               rtol=1e-4, atol=1e-4)


def test_closed_form_kl_matches_torch_and_monte_carlo():
    g = torch.Generator().manual_seed(0)
    q = vc.Posterior(torch.randn(3, 8, generator=g, dtype=torch.float64),
                     torch.rand(3, 8, generator=g, dtype=torch.float64) + 0.2)
    closed = vc.kl_to_standard_normal(q)
    ref = kl_divergence(Normal(q.mean, q.std), Normal(0.0, 1.0))
    torch.testing.assert_close(closed, ref, rtol=1e-12, atol=1e-12)
    z = q.mean + q.std * torch.randn(200_000, 3, 8, generator=g, dtype=torch.float64)
    log_ratio = Normal(q.mean, q.std).log_prob(z) - Normal(0.0, 1.0).log_prob(z)
    # Monte Carlo: within 5 standard errors of the closed form, for every dimension
    se = log_ratio.std(0) / math.sqrt(len(z))
    assert torch.all((log_ratio.mean(0) - closed).abs() < 5 * se)
    assert torch.all(closed >= 0)


def test_kl_is_zero_when_q_is_the_prior():
    q = vc.Posterior(torch.zeros(2, 64), torch.ones(2, 64))
    assert torch.all(vc.kl_to_standard_normal(q) == 0)


def test_elbo_terms_are_named_and_consistent():
    torch.manual_seed(0)
    m = vc.build_model("deep-128")
    x = torch.rand(6, 784)
    t = vc.elbo_terms(m, x, torch.Generator().manual_seed(0))
    assert t.log_lik.shape == (6,) and t.kl_per_dim.shape == (6, 64)
    torch.testing.assert_close(t.elbo, t.log_lik - t.kl_per_dim.sum(-1))
    assert t.loss.item() == pytest.approx(-t.elbo.mean().item())
    assert torch.all(torch.isfinite(t.elbo)) and torch.all(t.kl_per_dim >= 0)


def test_elbo_is_reproducible_with_a_generator():
    m = vc.build_model("vanilla")
    x = torch.rand(4, 784)
    a = vc.elbo_terms(m, x, torch.Generator().manual_seed(3)).elbo
    b = vc.elbo_terms(m, x, torch.Generator().manual_seed(3)).elbo
    c = vc.elbo_terms(m, x, torch.Generator().manual_seed(4)).elbo
    assert torch.equal(a, b) and not torch.equal(a, c)


def _log_weights_from_elbo_pieces(model, x, k, generator):
    """log p(x|z) + log p(z) − log q(z|x) from vae_core's own functions, draw for draw."""
    q = model.encode(x)
    eps = torch.randn((k, *q.mean.shape), generator=generator, dtype=x.dtype)
    z = q.mean + q.std * eps                                               # [K, B, D]
    mean = model.decode(z.reshape(-1, model.latent_dim)).reshape(k, len(x), -1)
    log_lik = vc.gaussian_log_likelihood(x.expand(k, -1, -1), mean, model.decoder_std)
    log_q = vc.gaussian_log_likelihood(z, q.mean, q.std)                  # q(z|x), diagonal
    return log_lik + Normal(0.0, 1.0).log_prob(z).sum(-1) - log_q


@pytest.mark.parametrize("arch", ["vanilla", "deep-512-256-128"])
def test_iwae_log_weights_equal_the_elbo_pieces(arch, blobs):
    torch.manual_seed(0)
    model = vc.build_model(arch, init="kaiming").double()
    with torch.no_grad():
        model.decoder_raw_std.fill_(-1.0)       # a sigma away from 1
        x = blobs[:9].double()
        ours = iwae.iwae_log_weights(model, x, 5, torch.Generator().manual_seed(2))
        ref = _log_weights_from_elbo_pieces(model, x, 5, torch.Generator().manual_seed(2))
    assert ours.shape == (5, 9)
    # float64 throughout: the two orders of summation differ by ~1e-16 relative
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-8)


def test_iwae_bound_is_above_elbo_and_equals_it_for_k1(blobs):
    torch.manual_seed(0)
    m = vc.build_model("deep-128")
    x = blobs[:64]
    elbo = evaluation.evaluate_elbo(m, x, seed=0)["elbo"]
    k1 = torch.stack([iwae.iwae_log_likelihood(m, x, k=1, seed=s).mean() for s in range(20)])
    # K = 1 is the ELBO in expectation: the mean over seeds agrees within its standard error.
    assert abs(k1.mean().item() - elbo) < 4 * k1.std().item() / math.sqrt(len(k1)) + 1.0
    k50 = iwae.iwae_log_likelihood(m, x, k=50, seed=0).mean().item()
    assert k50 > elbo
    assert k50 > k1.mean().item()
