"""Seeds trained side by side as one stacked model give the numbers each gets alone."""
import subprocess
import sys

import pytest
import torch

import vae_core as vc
from vae_report.train import checkpoints, engine, seed_stack, loop
from vae_report.train.seed_stack import SeedStack

from configs import train_config
from conftest import ROOT

SEEDS = (0, 1, 2)


def _models(arch: str, dtype: torch.dtype, init: str = "default", decoder_sigma: str = "softplus",
            encoder_std: str = "softplus"):
    models = []
    for s in SEEDS:
        torch.manual_seed(s)
        models.append(vc.build_model(arch, 16, init, decoder_sigma, encoder_std).to(dtype))
    return models


@pytest.mark.parametrize("arch,init,decoder_sigma,encoder_std", [
    ("vanilla", "default", "softplus", "softplus"),
    ("deep-256-128", "kaiming", "softplus", "softplus"),
    ("vanilla", "default", "exp", "exp")])
def test_a_stack_trains_each_seed_as_it_trains_alone_float64(blobs, arch, init, decoder_sigma,
                                                             encoder_std):
    """300 Adam steps (3 epochs of 100 batches of 4), float64, for three seeds: alone
    (``engine.run_epoch`` of a ``OneModel``, the fast step) and stacked (one batched step for all three).

    Why 1e-9 is tight and safe: the two differ only in how a GEMM sums (``mm`` per model vs
    ``bmm``), ≈ 1e-16 relative in float64; Adam turns a gradient into lr · m/√v, so a rounding
    difference matters only for an element whose gradient is within rounding of 0, which the
    noisy images here never give; 300 steps of lr 3e-4 cannot amplify 1e-16 to 1e-9. An error in
    the stacked step — another seed's noise, batch or moments, a sum over the wrong axis — moves
    every weight by ≈ lr a step, 1e5 times this tolerance."""
    x = blobs[:400].double()
    alone = _models(arch, torch.float64, init, decoder_sigma, encoder_std)
    stacked = _models(arch, torch.float64, init, decoder_sigma, encoder_std)
    opts_alone = [torch.optim.Adam(m.parameters(), lr=3e-4, fused=True) for m in alone]
    opts_stack = [torch.optim.Adam(m.parameters(), lr=3e-4, fused=True) for m in stacked]
    gens = lambda: ([torch.Generator().manual_seed(10 + s) for s in SEEDS],   # noqa: E731
                    [torch.Generator().manual_seed(20 + s) for s in SEEDS])
    pa, na = gens()
    elbo_alone = [[engine.run_epoch(engine.OneModel(m, o, "fast"), x, 4, [pa[i]], [na[i]],
                                    check_every=500)[0] for _ in range(3)]
                  for i, (m, o) in enumerate(zip(alone, opts_alone))]
    stack = SeedStack(stacked, opts_stack)
    ps, ns = gens()
    elbo_stack = [engine.run_epoch(stack, x, 4, ps, ns, check_every=500) for _ in range(3)]
    for i in range(len(SEEDS)):
        for epoch in range(3):
            assert elbo_stack[epoch][i] == pytest.approx(elbo_alone[i][epoch], rel=1e-9, abs=0)
        for a, b in zip(alone[i].parameters(), stacked[i].parameters()):
            torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-12)
        moments_a, moments_s = opts_alone[i].state_dict(), stack.optimizer_state(i)
        for k, state in moments_a["state"].items():
            torch.testing.assert_close(moments_s["state"][k]["exp_avg"], state["exp_avg"],
                                       rtol=1e-9, atol=1e-15)
            assert float(moments_s["state"][k]["step"]) == float(state["step"]) == 300
    # the seeds really differ: a stack that trained one model three times would pass the above
    # only if the three seeds' models were equal
    assert not torch.equal(stacked[0].encoder_head.weight, stacked[1].encoder_head.weight)


def _cfg(**kw):
    return train_config(**{**dict(arch="deep-128", epochs=3, eval_batch_size=100), **kw})


def test_one_seed_autograd_or_stacking_off_train_one_after_another(blobs, tmp_path):
    def train(configs, names, stack):
        return loop.train_models(configs, blobs[:160], blobs[500:], [tmp_path / n for n in names],
                                 stack=stack, progress=False)
    assert train([_cfg(epochs=1, seed=5)], ["a.pt"], True)[0].backend == ["fast"]
    h = train([_cfg(epochs=1, backend="autograd", seed=s) for s in (0, 1)], ["b0.pt", "b1.pt"], True)
    assert h[0].backend == h[1].backend == ["autograd"]
    h = train([_cfg(epochs=1, seed=s) for s in (0, 1)], ["c0.pt", "c1.pt"], False)
    assert h[0].backend == h[1].backend == ["fast"]


def test_stack_problem_names_what_cannot_be_stacked():
    a, b = _models("vanilla", torch.float32)[:2]
    c = vc.build_model("deep-128", 16)
    adam = lambda m, **kw: torch.optim.Adam(m.parameters(), lr=3e-4, **kw)   # noqa: E731
    assert seed_stack.stack_problem([a, b], [adam(a, fused=True), adam(b, fused=True)]) is None
    assert "shapes" in seed_stack.stack_problem([a, c], [adam(a, fused=True), adam(c, fused=True)])
    assert "fused" in seed_stack.stack_problem([a, b], [adam(a, fused=True), adam(b, foreach=True)])
    assert "in order" in seed_stack.stack_problem([a, b], [adam(b, fused=True), adam(a, fused=True)])
    e = vc.build_model("vanilla", 16, decoder_sigma="exp")
    assert "decoder_sigma" in seed_stack.stack_problem([a, e], [adam(a, fused=True), adam(e, fused=True)])
    assert "lr" in seed_stack.stack_problem(
        [a, b], [adam(a, fused=True), torch.optim.Adam(b.parameters(), lr=1e-3, fused=True)])
    with pytest.raises(ValueError, match="cannot be trained as one stack"):
        SeedStack([a, c], [adam(a, fused=True), adam(c, fused=True)])


def test_the_training_job_script(tmp_path):
    """The training job (vae-train): a bad parameter is one line naming it, no traceback."""
    out = subprocess.run([sys.executable, "-m", "vae_report.workflow.train_job", "--profile",
                          "quick", "--run", "retrained", "--arch", "vanilla", "-p", "lr", "fast",
                          "-p", "checkpoints_dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "lr: expected float" in out.stderr and "Traceback" not in out.stderr
    assert not any(tmp_path.iterdir())


def test_auto_stacks_on_a_cpu_only_the_models_that_gain(blobs, tmp_path):
    small, large = vc.build_model("vanilla"), vc.build_model("deep-256")
    assert seed_stack.stacking_pays(small, "cpu")[0] and not seed_stack.stacking_pays(large, "cpu")[0]
    assert seed_stack.stacking_pays(large, "cuda")[0]               # launch overhead on a GPU
    for arch, expected in (("vanilla", loop.STACKED), ("deep-256", "fast")):
        paths = [tmp_path / f"{arch}-{s}.pt" for s in (0, 1)]
        h = loop.train_models([_cfg(arch=arch, epochs=1, seed=s) for s in (0, 1)], blobs[:64],
                              blobs[500:], paths, progress=False)
        assert h[0].backend == h[1].backend == [expected]
        why = checkpoints.load_checkpoint(paths[0])["meta"]["training_backend"]["stacking"]
        assert "parameters" in why
    with pytest.raises(ValueError, match="stack must be"):
        loop.train_models([_cfg(seed=s) for s in (0, 1)], blobs[:64], blobs[500:], paths,
                          stack="yes")
