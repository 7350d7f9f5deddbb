"""The 8-bit likelihood: bins that are a proper distribution, stable tails, an importance-weighted
estimate that rises with K towards a brute-force integral."""
import math

import pytest
import torch
from torch.distributions import Normal

import vae_core as vc
from vae_report.metrics import discrete, iwae

LEVELS = torch.arange(256, dtype=torch.float64) / 255


@pytest.mark.parametrize("std", [1e-3, 0.05, 1.0, 10.0])
@pytest.mark.parametrize("mean", [0.0, 0.3, 1.0])
def test_one_pixels_256_bins_sum_to_one(mean, std):
    logp = discrete.log_bin_probability(LEVELS, torch.full((256,), mean, dtype=torch.float64), std)
    assert torch.all(logp <= 0) and torch.all(torch.isfinite(logp))
    # float64: the sum of 256 probabilities is 1 to a few ulps
    assert abs(torch.logsumexp(logp, 0).item()) < 1e-12


def test_bins_agree_with_cdf_differences_where_those_are_accurate():
    mean = torch.tensor(0.4, dtype=torch.float64)
    std = 0.1
    p = discrete.log_bin_probability(LEVELS, mean.expand(256), std).exp()
    cdf = lambda v: torch.special.ndtr((v - mean) / std)
    direct = cdf(LEVELS + 0.5 / 255) - cdf(LEVELS - 0.5 / 255)
    direct[0], direct[-1] = cdf(LEVELS[0] + 0.5 / 255), 1 - cdf(LEVELS[-1] - 0.5 / 255)
    torch.testing.assert_close(p, direct, rtol=1e-9, atol=1e-15)


def test_far_tails_stay_finite_and_exact():
    """σ = 1e-3 and a mean ≈ 1 away: probabilities ≈ exp(−5·10⁵), where Φ differences are 0."""
    x = torch.tensor([1.0, 0.0, 254 / 255], dtype=torch.float64)
    mean = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    logp = discrete.log_bin_probability(x, mean, 1e-3)
    assert torch.all(torch.isfinite(logp)) and torch.all(logp < -4e5)
    edge = torch.special.log_ndtr(torch.tensor(-(1 - 0.5 / 255) / 1e-3, dtype=torch.float64))
    torch.testing.assert_close(logp[:2], edge.expand(2), rtol=1e-12, atol=0)   # the open bins
    # an inner bin far above the mean: log(Φ(−lo) − Φ(−hi)), both tails ≈ e^(−5e5)
    lo, hi = (254 - 0.5) / 255 / 1e-3, (254 + 0.5) / 255 / 1e-3
    la, lb = (torch.special.log_ndtr(torch.tensor(-v, dtype=torch.float64)) for v in (hi, lo))
    torch.testing.assert_close(logp[2], lb + torch.log1p(-torch.exp(la - lb)), rtol=1e-12, atol=0)
    # a bin 1/255 = 3.92 σ wide centred on the mean holds 2Φ(1.96) − 1 ≈ 95 %
    centre = discrete.log_bin_probability(torch.tensor([0.5], dtype=torch.float64),
                                          torch.tensor([0.5], dtype=torch.float64), 1e-3)
    expected = torch.log(2 * torch.special.ndtr(torch.tensor(0.5 / 255 / 1e-3, dtype=torch.float64)) - 1)
    torch.testing.assert_close(centre[0], expected, rtol=1e-12, atol=1e-15)


def _tiny_model(sigma=0.1):
    """One latent, a decoder whose output moves fast with z (weights × 30) and σ = 0.1: the
    posterior is sharp and q(z|x) (untrained) far from it, so K matters."""
    torch.manual_seed(0)
    model = vc.build_model("vanilla", latent_dim=1).double().eval()
    with torch.no_grad():
        model.decoder_raw_std.fill_(vc.inverse_positive_std(sigma, vc.DECODER_STD_FLOOR))
        model.decoder_head.weight.mul_(30)
    return model


def _images(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.round(torch.rand(n, 784, generator=g, dtype=torch.float64) ** 3 * 255) / 255


def _brute_force(model, x):
    """log P(x) = log ∫ p(z) P(x|z) dz by the trapezoid rule on a fine grid of the one latent."""
    z = torch.linspace(-9, 9, 6001, dtype=torch.float64)[:, None]
    with torch.no_grad():
        mean = model.decode(z)                                           # [G, 784]
        out = []
        for row in x:
            log_joint = (discrete.log_bin_probability(row.expand_as(mean), mean, model.decoder_std)
                         .sum(1) + Normal(0.0, 1.0).log_prob(z).sum(-1))
            out.append(torch.logsumexp(log_joint, 0) + math.log(float(z[1] - z[0])))
    return torch.stack(out)


def test_the_estimate_rises_with_k_towards_the_brute_force_integral():
    model, x = _tiny_model(), _images(3)
    exact = _brute_force(model, x)
    assert torch.all(exact < 0)                                          # a probability
    ks = (1, 10, 100, 1000, 5000)
    gaps = [float((exact - discrete.discrete_log_likelihood(model, x, k, seed=1)).mean()) for k in ks]
    # measured: 4654, 925, 87, 0.40, -0.001 nats below the integral
    assert all(a > b for a, b in zip(gaps, gaps[1:]))                    # rises with K
    assert abs(gaps[-1]) < 0.05 and gaps[0] > 1000                       # to the limit, from far


def test_the_discrete_and_continuous_weights_share_their_draws():
    """Same generator state ⇒ the same z; only the pixel likelihood differs."""
    model, x = _tiny_model(), _images(2)
    with torch.no_grad():
        cont = iwae.iwae_log_weights(model, x, 4, torch.Generator().manual_seed(3))
        disc = discrete.discrete_log_weights(model, x, 4, torch.Generator().manual_seed(3))
        z, log_prior, log_q = iwae.latent_draws(model, x, 4, torch.Generator().manual_seed(3))
        mean = model.decode(z.reshape(-1, 1)).reshape(4, 2, -1)
    torch.testing.assert_close(cont - disc, vc.gaussian_log_likelihood(x, mean, model.decoder_std)
                               - discrete.log_bin_probability(x, mean, model.decoder_std).sum(-1),
                               rtol=1e-9, atol=1e-6)
