"""The one training loop (vae_report.engine): its epoch equals a hand-written one, bit for bit,
and the graphed step is the eager step wherever no CUDA graph can be captured."""
from __future__ import annotations

import pytest
import torch

import vae_core as vc
from vae_report import engine, fast_step, training
from vae_report.devices import epoch_draws


def _model(arch="deep-128", seed=0):
    torch.manual_seed(seed)
    model = vc.build_model(arch)
    return model, training.make_optimizer(model, 3e-4, torch.device("cpu"))


@pytest.mark.parametrize("backend", ["fast", "autograd"])
def test_an_epoch_equals_the_plain_loop(blobs, backend):
    """run_epoch over a OneModel against the loop written out: this epoch's permutation and
    noise, each batch's step, Adam — the same weights and the same mean ELBO, bit for bit."""
    x, batch = blobs[:100], 16                      # 7 steps, the last one of 4 images
    a, opt_a = _model()
    elbo = engine.run_epoch(engine.OneModel(a, opt_a, backend), x, batch,
                            [torch.Generator().manual_seed(1)], [torch.Generator().manual_seed(2)])[0]
    b, opt_b = _model()
    perm, eps = epoch_draws(torch.Generator().manual_seed(1), torch.Generator().manual_seed(2),
                            len(x), 64, x.dtype, "cpu")
    total = torch.zeros(())
    for start in range(0, len(x), batch):
        rows = slice(start, start + batch)
        if backend == "fast":
            fast_step.allocate_grads(b)
            step_elbo = fast_step.elbo_step(b, x[perm[rows]], eps=eps[rows])
        else:
            terms = vc.elbo_terms(b, x[perm[rows]], eps=eps[rows])
            opt_b.zero_grad(set_to_none=True)
            terms.loss.backward()
            step_elbo = terms.elbo.detach()
        opt_b.step()
        total += step_elbo.sum()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert elbo == pytest.approx(float(total) / len(x), rel=1e-6)


def test_the_graphed_step_is_the_eager_step_on_the_cpu(blobs):
    a, opt_a = _model("vanilla")
    b, opt_b = _model("vanilla")
    graphed = engine.Graphed(engine.OneModel(a, opt_a, "fast"))
    assert graphed.state == "on cpu: eager" and graphed.backend == "fast"
    gens = lambda: ([torch.Generator().manual_seed(1)], [torch.Generator().manual_seed(2)])  # noqa: E731
    assert engine.run_epoch(graphed, blobs[:64], 16, *gens()) == \
        engine.run_epoch(engine.OneModel(b, opt_b, "fast"), blobs[:64], 16, *gens())
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_a_stepper_refuses_an_unknown_backend():
    model, opt = _model("vanilla")
    with pytest.raises(ValueError, match="backend must be 'fast' or 'autograd'"):
        engine.OneModel(model, opt, "jit")
