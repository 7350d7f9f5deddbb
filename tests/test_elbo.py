import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

import vae_core as vc


def test_gaussian_log_likelihood_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    x, mean = torch.rand(4, 784, generator=g), torch.rand(4, 784, generator=g)
    for std in (0.05, 0.3, 2.0):
        ours = vc.gaussian_log_likelihood(x, mean, torch.tensor(std))
        ref = Normal(mean, std).log_prob(x).sum(-1)
        torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-3)
    per_pixel = torch.rand(784, generator=g) + 0.05       # the general, broadcast form
    torch.testing.assert_close(vc.gaussian_log_likelihood(x, mean, per_pixel),
                               Normal(mean, per_pixel).log_prob(x).sum(-1), rtol=1e-5, atol=1e-3)


def test_closed_form_kl_matches_torch_and_monte_carlo():
    g = torch.Generator().manual_seed(0)
    q = vc.Posterior(torch.randn(3, 8, generator=g), torch.rand(3, 8, generator=g) + 0.2)
    closed = vc.kl_to_standard_normal(q)
    ref = kl_divergence(Normal(q.mean, q.std), Normal(0.0, 1.0))
    torch.testing.assert_close(closed, ref, rtol=1e-5, atol=1e-6)
    z = q.mean + q.std * torch.randn(200_000, 3, 8, generator=g)
    mc = (Normal(q.mean, q.std).log_prob(z) - Normal(0.0, 1.0).log_prob(z)).mean(0)
    torch.testing.assert_close(mc, closed, rtol=0.0, atol=0.02)
    assert torch.all(closed >= 0)


def test_kl_is_zero_when_q_is_the_prior():
    q = vc.Posterior(torch.zeros(2, 64), torch.ones(2, 64))
    assert torch.all(vc.kl_to_standard_normal(q).abs() < 1e-7)


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


def test_iwae_bound_is_above_elbo_and_equals_it_for_k1(blobs):
    torch.manual_seed(0)
    m = vc.build_model("deep-128")
    x = blobs[:64]
    elbo = vc.evaluate_elbo(m, x, seed=0)["elbo"]
    k1 = torch.stack([vc.iwae_log_likelihood(m, x, k=1, seed=s).mean() for s in range(20)])
    # K = 1 is the ELBO in expectation: the mean over seeds agrees within its standard error.
    assert abs(k1.mean().item() - elbo) < 4 * k1.std().item() / math.sqrt(len(k1)) + 1.0
    k50 = vc.iwae_log_likelihood(m, x, k=50, seed=0).mean().item()
    assert k50 > elbo
    assert k50 > k1.mean().item()
