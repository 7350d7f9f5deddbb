import pytest
import torch

import vae_core as vc
from vae_report.report.seed_reference import SEED_PARAM_COUNTS


@pytest.mark.parametrize("arch", list(vc.ARCHS))
def test_parameter_counts_match_seed_table_2(arch):
    for init in vc.INITS:
        assert vc.count_parameters(vc.build_model(arch, init=init)) == SEED_PARAM_COUNTS[arch]
    # the seed-faithful parameterisation (log-variance head, exp(log σ)) has the same count
    faithful = vc.build_model(arch, decoder_sigma="exp", encoder_std="exp")
    assert vc.count_parameters(faithful) == SEED_PARAM_COUNTS[arch]


def test_decoder_mirrors_encoder():
    m = vc.build_model("deep-512-256-128")
    enc = [l.out_features for l in m.encoder if isinstance(l, torch.nn.Linear)]
    dec = [l.out_features for l in m.decoder if isinstance(l, torch.nn.Linear)]
    assert enc == [512, 256, 128] and dec == [128, 256, 512]
    assert m.encoder_head.out_features == 128 and m.decoder_head.out_features == vc.IMAGE_PIXELS
    assert vc.arch_layers("deep-512-256-128") == "784 → 512 → 256 → 128 → z"


def test_kaiming_init_zero_bias_and_relu_gain():
    torch.manual_seed(0)
    m = vc.build_model("deep-512", init="kaiming")
    layer = m.encoder[0]
    assert torch.all(layer.bias == 0)
    expected_std = (2.0 / 784) ** 0.5
    # 512 × 784 draws: the sample std is within 0.5 % of its expectation (4 standard errors)
    assert layer.weight.std().item() == pytest.approx(expected_std, rel=0.05)
    default = vc.build_model("deep-512")
    assert not torch.all(default.encoder[0].bias == 0)


def test_unknown_arch_and_init_are_refused():
    with pytest.raises(ValueError, match="unknown architecture 'deep-1024'"):
        vc.build_model("deep-1024")
    with pytest.raises(ValueError, match="init must be"):
        vc.VAE([128], init="xavier")


def test_shapes_and_ranges():
    m = vc.build_model("deep-256-128")
    x = torch.rand(5, 784)
    q = m.encode(x)
    assert q.mean.shape == q.std.shape == (5, 64)
    assert torch.all(q.std > 0)
    mean = m.decode(q.sample())
    assert mean.shape == (5, 784) and mean.min() >= 0 and mean.max() <= 1
    assert m.decoder_std.item() == pytest.approx(1.0, rel=1e-5)
    assert m.sigma() == pytest.approx(1.0, rel=1e-5) and isinstance(m.sigma(), float)


def test_another_latent_size_builds():
    m = vc.build_model("deep-128", latent_dim=16)
    assert m.encode(torch.rand(3, 784)).mean.shape == (3, 16)


def test_std_parameterisation_cannot_overflow_or_reach_zero():
    huge = vc.positive_std(torch.tensor([-1e4, 0.0, 1e4, 1e30]), 1e-3)
    assert torch.all(torch.isfinite(huge)) and torch.all(huge >= 1e-3)
    assert torch.all(torch.isfinite(torch.log(huge)))
    for std in (1.0, 0.05, 3.0):
        raw = vc.inverse_positive_std(std, 1e-3)
        assert vc.positive_std(torch.tensor(raw, dtype=torch.float64), 1e-3).item() == \
            pytest.approx(std, rel=1e-12)


def test_the_seeds_log_variance_head_has_no_floor():
    """encoder_std="exp": std = exp(½·raw), so it reaches 0 and inf where the floored one cannot
    (what the seed's broken chain needs), and its slope is ½·std (the fast step's chain rule)."""
    raw = torch.tensor([-400.0, -2.0, 0.0, 2.0, 400.0])
    std = vc.encoder_std(raw, "exp")
    assert std[0] == 0 and torch.isinf(std[-1])
    torch.testing.assert_close(std[1:4], torch.exp(0.5 * raw[1:4]))
    torch.testing.assert_close(vc.encoder_std_slope(raw[1:4], std[1:4], "exp"), 0.5 * std[1:4])
    floored = vc.encoder_std(raw, "softplus")
    assert torch.all(floored >= vc.ENCODER_STD_FLOOR) and torch.all(torch.isfinite(floored))
    with pytest.raises(ValueError, match="encoder_std must be one of softplus, exp"):
        vc.build_model("vanilla", encoder_std="logvar")
