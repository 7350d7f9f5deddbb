"""The chain as the seed ran it (vae_report.metrics.chain.seed_chain): sampling through
torch.distributions, the two workarounds, and how a broken chain is recorded."""
import pytest
import torch

import vae_core as vc
from vae_report.metrics import chain


def _faithful(logvar_bias: float | None = None) -> vc.VAE:
    torch.manual_seed(0)
    model = vc.build_model("vanilla", decoder_sigma="exp", encoder_std="exp")
    if logvar_bias is not None:
        with torch.no_grad():                   # every predicted log-variance ≈ logvar_bias
            model.encoder_head.weight[64:].zero_()
            model.encoder_head.bias[64:].fill_(logvar_bias)
    return model


def test_a_healthy_model_runs_every_chain_to_the_end():
    x0 = torch.rand(3, 784)
    fates = chain.seed_chains(_faithful(), x0, steps=6, seed=1)
    assert set(fates) == set(chain.CHAIN_KINDS)
    for fate in fates.values():
        s = fate.summary()
        assert not s["broke"] and s["failed_step"] is None and s["final_step"] == 6
        assert fate.frames.shape == (7, 3, 784) and torch.equal(fate.frames[0], x0)
        assert s["logvar_min"] <= s["logvar_max"]
    normalised = fates["normalised"].frames[1:]
    assert torch.allclose(normalised.amin(-1), torch.zeros(6, 3))
    assert torch.allclose(normalised.amax(-1), torch.ones(6, 3))


@pytest.mark.parametrize("bias,failure", [(-400.0, "scale 0"), (400.0, "scale inf")])
def test_an_underflowing_or_overflowing_std_breaks_sampling_and_clipping_saves_it(bias, failure):
    """exp(½·(−400)) is 0 in float32: Normal's argument check refuses it at the first step; an
    infinite std gives an infinite z and a NaN decoder mean, refused the same way. Clipping the
    log-variance to LOGVAR_CLIP before the exponential runs the whole chain."""
    fates = chain.seed_chains(_faithful(bias), torch.rand(2, 784), steps=4)
    for kind in ("plain", "normalised"):
        s = fates[kind].summary()
        assert s["broke"] and s["failed_step"] == 1 and s["failure"] == failure, s
        assert "Normal" in s["message"] and s["final_step"] == 0
        assert s["logvar_min"] == pytest.approx(bias, abs=1e-3)
    clipped = fates["clipped"].summary()
    assert not clipped["broke"] and clipped["final_step"] == 4
    assert abs(clipped["logvar_max"]) >= 399      # the prediction is recorded before clipping


def test_the_floored_encoder_reports_its_log_variance_as_two_log_std():
    torch.manual_seed(0)
    model = vc.build_model("vanilla")
    x = torch.rand(2, 784)
    mean, logvar, std = chain.encoder_logvar(model, x)
    q = model.encode(x)
    torch.testing.assert_close(std, q.std)
    torch.testing.assert_close(mean, q.mean)
    torch.testing.assert_close(logvar, 2 * torch.log(q.std))


def test_an_unknown_chain_kind_is_refused():
    with pytest.raises(ValueError, match="plain, normalised, clipped"):
        chain.seed_chain(_faithful(), torch.rand(1, 784), "clamped")
