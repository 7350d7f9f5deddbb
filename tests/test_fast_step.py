"""The fast backend against the one ELBO: the hand-written gradient, the direct fused-Adam call,
which models it accepts, and the fallback when a private torch op changes."""
import warnings

import pytest
import torch
from torch import nn

import vae_core as vc
from vae_report.train import fast_step, loop


def _reference_grads(model, x, seed):
    """ELBO ``[B]`` and gradients of ``-mean(ELBO)`` by autograd on vae_core.elbo_terms."""
    model.zero_grad(set_to_none=True)
    terms = vc.elbo_terms(model, x, torch.Generator().manual_seed(seed))
    terms.loss.backward()
    return terms.elbo.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


def _fast_grads(model, x, seed):
    for p in model.parameters():
        p.grad = torch.full_like(p, 123.0)      # stale values must be overwritten, not added to
    elbo = fast_step.elbo_step(model, x, torch.Generator().manual_seed(seed))
    return elbo, {n: p.grad.clone() for n, p in model.named_parameters()}


#: (decoder_sigma, encoder_std): the study's floors, the decoder-only variant, the seed's own
STD_PARAMETERISATIONS = [("softplus", "softplus"), ("exp", "softplus"), ("exp", "exp")]


@pytest.mark.parametrize("decoder_sigma,encoder_std", STD_PARAMETERISATIONS)
@pytest.mark.parametrize("init", vc.INITS)
@pytest.mark.parametrize("arch", list(vc.ARCHS))
def test_fast_step_is_the_elbo_and_its_gradient(arch, init, decoder_sigma, encoder_std, blobs):
    """Every architecture, init and std parameterisation, in float64, so that rounding (≈ 1e-16
    relative, whatever kernels this CPU picks) cannot hide a wrong formula nor fail a right one."""
    torch.manual_seed(0)
    model = vc.build_model(arch, init=init, decoder_sigma=decoder_sigma,
                           encoder_std=encoder_std).double()
    with torch.no_grad():                       # a sigma away from its initial 1
        model.decoder_raw_std.fill_(-1.5)
    x = blobs[:24].double()
    ref_elbo, ref = _reference_grads(model, x, seed=7)
    elbo, got = _fast_grads(model, x, seed=7)
    torch.testing.assert_close(elbo, ref_elbo, rtol=1e-10, atol=1e-9)
    for name, g in ref.items():
        scale = float(g.abs().max())
        assert scale > 0, name
        # float64 sums of ≤ 784·24 products: errors ≲ 1e-12 of the largest entry
        torch.testing.assert_close(got[name], g, rtol=1e-9, atol=1e-10 * scale, msg=name)


@pytest.mark.parametrize("arch", ["vanilla", "deep-512-256-128"])
def test_fast_step_in_float32_is_as_accurate_as_autograd(arch, blobs):
    """In float32 both paths round differently; each must be close to the float64 truth, the fast
    one no worse than a small multiple of autograd's own float32 error."""
    torch.manual_seed(0)
    model32 = vc.build_model(arch, init="kaiming")
    model64 = vc.build_model(arch, init="kaiming").double()
    model64.load_state_dict({k: v.double() for k, v in model32.state_dict().items()})
    x = blobs[:24]
    _, truth = _reference_grads(model64, x.double(), seed=3)
    _, auto = _reference_grads(model32, x, seed=3)
    _, fast = _fast_grads(model32, x, seed=3)
    for name, g in truth.items():
        scale = float(g.abs().max())
        err_fast = float((fast[name].double() - g).abs().max())
        err_auto = float((auto[name].double() - g).abs().max())
        # 2⁻²⁴·784 ≈ 5e-5 relative is the worst case for one float32 dot product of length 784
        assert err_fast <= max(4 * err_auto, 5e-5 * scale), (name, err_fast, err_auto, scale)


def test_fast_step_knows_the_study_models_and_refuses_others():
    for arch in vc.ARCHS:
        assert fast_step.unsupported_reason(vc.build_model(arch)) is None
    assert fast_step.unsupported_reason(vc.build_model("deep-128", latent_dim=8)) is None
    m = vc.build_model("deep-256")
    m.encoder.insert(1, nn.Dropout(0.1))
    assert "Dropout" in fast_step.unsupported_reason(m)
    m = vc.build_model("deep-256")
    m.decoder[0] = nn.Sequential(nn.Linear(64, 256), nn.LayerNorm(256))
    assert "Sequential" in fast_step.unsupported_reason(m)
    m = vc.build_model("vanilla")
    m.decoder_head.register_forward_hook(lambda *a: None)
    assert "hooks" in fast_step.unsupported_reason(m)

    class Tempered(vc.VAE):
        def decode(self, z):
            return super().decode(z / 2)
    assert "overrides VAE.decode" in fast_step.unsupported_reason(Tempered([128]))
    assert "not a vae_core.VAE" in fast_step.unsupported_reason(nn.Linear(3, 3))


def _adam_run(model, optimizer, x, steps, use_stepper):
    gen = torch.Generator().manual_seed(3)
    fast_step.allocate_grads(model)
    for i in range(steps):
        fast_step.elbo_step(model, x[8 * i:8 * i + 8], gen)
        stepper = fast_step.fused_adam_stepper(optimizer) if use_stepper else None
        (stepper or optimizer.step)()


def test_fused_adam_stepper_is_bit_for_bit_optimizer_step(blobs):
    """The trainer's direct fused-Adam call must be exactly Adam.step(), state included."""
    runs = []
    for use_stepper in (False, True):
        torch.manual_seed(0)
        model = vc.build_model("deep-128", init="kaiming")
        opt = loop.make_optimizer(model, 1e-3, torch.device("cpu"))
        assert fast_step.fused_adam_stepper(opt) is None          # no state before the first step
        _adam_run(model, opt, blobs, 12, use_stepper)
        assert fast_step.fused_adam_stepper(opt) is not None      # so the second run did use it
        runs.append((model.state_dict(), opt.state_dict()))
    (m1, o1), (m2, o2) = runs
    assert m1.keys() == m2.keys() and all(torch.equal(m1[k], m2[k]) for k in m1)
    for i, s1 in o1["state"].items():
        assert float(s1["step"]) == float(o2["state"][i]["step"]) == 12
        assert torch.equal(s1["exp_avg"], o2["state"][i]["exp_avg"])
        assert torch.equal(s1["exp_avg_sq"], o2["state"][i]["exp_avg_sq"])
    # a model that moved: the comparison above is not between two untouched initialisations
    torch.manual_seed(0)
    fresh = vc.build_model("deep-128", init="kaiming").state_dict()
    assert not torch.equal(fresh["decoder_head.weight"], m2["decoder_head.weight"])


def test_fused_adam_stepper_declines_what_it_does_not_implement(blobs):
    model = vc.build_model("vanilla")
    for opt in (torch.optim.Adam(model.parameters(), lr=1e-3, foreach=True),
                torch.optim.Adam(model.parameters(), lr=1e-3, fused=True, weight_decay=0.1),
                torch.optim.SGD(model.parameters(), lr=1e-3)):
        _adam_run(model, opt, blobs, 1, use_stepper=False)
        assert fast_step.fused_adam_stepper(opt) is None


@pytest.fixture
def fresh_checks(monkeypatch):
    """The private ops checked afresh (the module keeps one check per device kind)."""
    monkeypatch.setattr(fast_step, "_CHECKED", {})


def test_private_ops_pass_their_check_here(fresh_checks):
    with warnings.catch_warnings():
        warnings.simplefilter("error", fast_step.FastPathNotice)
        ops = fast_step.checked_ops("cpu")
    assert ops.notes == [] and ops.description == "private ops"


def test_a_changed_private_op_falls_back_to_the_public_path(fresh_checks, monkeypatch, blobs):
    # a torch whose sigmoid_backward computed something else, and whose _fused_adam_ lost an
    # argument: both must be caught by the one-time check, each with a one-line notice
    monkeypatch.setitem(fast_step.PRIVATE_OPS, "aten.sigmoid_backward", lambda g, y: g * y)
    lookup, names = fast_step.PRIVATE_SCHEMAS["torch._fused_adam_"]
    monkeypatch.setitem(fast_step.PRIVATE_SCHEMAS, "torch._fused_adam_",
                        (lookup, names + ("new_argument",)))
    with pytest.warns(fast_step.FastPathNotice) as notices:
        ops = fast_step.checked_ops("cpu")
    assert len(notices) == 2 and all("\n" not in str(n.message) for n in notices)
    assert ops.sigmoid_backward is fast_step.sigmoid_backward_public
    assert ops.relu_backward is fast_step.PRIVATE_OPS["aten.threshold_backward"]
    assert not ops.fused_adam and "public fallback" in ops.description
    # with the fallback the step is still the ELBO's gradient
    torch.manual_seed(0)
    model = vc.build_model("deep-128").double()
    x = blobs[:16].double()
    _, ref = _reference_grads(model, x, seed=1)
    _, got = _fast_grads(model, x, seed=1)
    for name, g in ref.items():
        torch.testing.assert_close(got[name], g, rtol=1e-9, atol=1e-10 * float(g.abs().max()))
    opt = loop.make_optimizer(model, 1e-3, "cpu")
    _adam_run(model, opt, blobs.double(), 1, use_stepper=False)
    assert fast_step.fused_adam_stepper(opt) is None               # Optimizer.step() it is


def test_a_missing_private_op_falls_back(fresh_checks, monkeypatch):
    def gone():
        raise AttributeError("no such op")
    monkeypatch.setitem(fast_step.PRIVATE_SCHEMAS, "aten.threshold_backward",
                        (gone, ("grad_output", "self", "threshold")))
    with pytest.warns(fast_step.FastPathNotice, match="threshold_backward is not available"):
        ops = fast_step.checked_ops("cpu")
    assert ops.relu_backward is fast_step.relu_backward_public


def _host_syncs(step) -> list[str]:
    """The aten ops of ``step()`` that copy a device value to the host (``.item()``, ``float()``,
    ``bool()`` of a tensor, ``nonzero``): on a GPU each one stalls the step until the device has
    caught up. Recorded with a dispatch mode, so it works on the CPU."""
    from torch.utils._python_dispatch import TorchDispatchMode

    syncing = {"_local_scalar_dense", "nonzero", "is_nonzero", "equal"}
    seen: list[str] = []

    class Guard(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func.overloadpacket.__name__
            if name in syncing:
                seen.append(name)
            return func(*args, **(kwargs or {}))

    with Guard():
        step()
    return seen


@pytest.mark.parametrize("arch", ["vanilla", "deep-512-256-128"])
def test_a_training_step_makes_no_host_synchronisation(arch):
    from vae_report.train import seed_stack, loop

    torch.manual_seed(0)
    model = vc.build_model(arch)
    opt = loop.make_optimizer(model, 3e-4, torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    x, eps = torch.rand(16, 784, generator=g), torch.randn(16, 64, generator=g)
    fast_step.allocate_grads(model)
    fast_step.elbo_step(model, x, eps=eps)
    opt.step()                                            # Adam's state exists from here on
    adam = fast_step.fused_adam_stepper(opt) or opt.step
    assert _host_syncs(lambda: (fast_step.elbo_step(model, x, eps=eps), adam())) == []
    models = [vc.build_model(arch) for _ in range(2)]
    stack = seed_stack.SeedStack(models, [loop.make_optimizer(m, 3e-4, torch.device("cpu"))
                                          for m in models])
    xs, es = torch.rand(2, 16, 784, generator=g), torch.randn(2, 16, 64, generator=g)
    stack.step(xs, es)
    assert _host_syncs(lambda: stack.step(xs, es)) == []
    # the guard sees a sync when there is one
    assert _host_syncs(lambda: float(fast_step.elbo_step(model, x, eps=eps).sum())) == [
        "_local_scalar_dense"]
