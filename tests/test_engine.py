"""The one training loop (vae_report.train.engine): its epoch equals a hand-written one, bit for bit,
and the graphed step is the eager step wherever no CUDA graph can be captured."""
from __future__ import annotations

import pytest
import torch

import vae_core as vc
from vae_report.train import engine, fast_step, loop
from vae_report.train.engine import epoch_draws


def _model(arch="deep-128", seed=0):
    torch.manual_seed(seed)
    model = vc.build_model(arch)
    return model, loop.make_optimizer(model, 3e-4, torch.device("cpu"))


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
    assert graphed.state == "on cpu: eager" and graphed.model_backend(0) == "fast"
    gens = lambda: ([torch.Generator().manual_seed(1)], [torch.Generator().manual_seed(2)])  # noqa: E731
    assert engine.run_epoch(graphed, blobs[:64], 16, *gens()) == \
        engine.run_epoch(engine.OneModel(b, opt_b, "fast"), blobs[:64], 16, *gens())
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_a_stepper_refuses_an_unknown_backend():
    model, opt = _model("vanilla")
    with pytest.raises(ValueError, match="backend must be 'fast' or 'autograd'"):
        engine.OneModel(model, opt, "jit")


def test_several_steps_each_stepper_as_it_steps_alone(blobs):
    """A run's models in one stepper (engine.Several): a stack of two deep-128 seeds and a
    vanilla model alone, stepped together over two epochs, end with the weights, Adam moments and
    ELBOs each of them gets from its own stepper — bit for bit, since each inner stepper does the
    same arithmetic on the same rows (only the noise tensor they are sliced from is bigger)."""
    from vae_report.train.seed_stack import SeedStack

    def steppers():
        (m0, o0), (m1, o1), (v, ov) = _model(seed=0), _model(seed=1), _model("vanilla", seed=2)
        return SeedStack([m0, m1], [o0, o1]), engine.OneModel(v, ov, "fast")

    def gens(seeds):
        return ([torch.Generator().manual_seed(s) for s in seeds],
                [torch.Generator().manual_seed(100 + s) for s in seeds])

    x = blobs[:96]
    stack, one = steppers()
    pa, na = gens([0, 1])
    pv, nv = gens([2])
    alone = [engine.run_epoch(stack, x, 16, pa, na) + engine.run_epoch(one, x, 16, pv, nv)
             for _ in range(2)]
    several = engine.Several(steppers())
    ps, ns = gens([0, 1, 2])
    together = [engine.run_epoch(several, x, 16, ps, ns) for _ in range(2)]
    assert together == alone
    assert [several.model_backend(i) for i in range(3)] == ["fast-stacked"] * 2 + ["fast"]
    for i, model in enumerate([*stack.models, *one.models]):
        assert all(torch.equal(a, b) for a, b in
                   zip(model.state_dict().values(), several.model_state(i).values()))
        moments = [s["exp_avg_sq"] for s in several.optimizer_state(i)["state"].values()]
        mine = (stack.optimizer_state(i) if i < 2 else one.optimizer_state(0))["state"].values()
        assert all(torch.equal(a, b["exp_avg_sq"]) for a, b in zip(moments, mine))


def test_several_refuses_models_of_different_latent_sizes():
    a, b = vc.build_model("vanilla", 16), vc.build_model("vanilla", 8)
    with pytest.raises(ValueError, match="latent size"):
        engine.Several([engine.OneModel(m, loop.make_optimizer(m, 3e-4, "cpu"), "fast")
                        for m in (a, b)])
