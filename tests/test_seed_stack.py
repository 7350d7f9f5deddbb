"""Seeds trained side by side as one stacked model give the numbers each gets alone."""
import subprocess
import sys

import pytest
import torch

import vae_core as vc
from vae_report.train import checkpoints, engine, seed_stack, loop
from vae_report.errors import NonFiniteLossError
from vae_report.train.seed_stack import SeedStack

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
    (``loop.train_epoch``, the fast step) and stacked (one batched step for all three).

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
    elbo_alone = [[loop.train_epoch(m, o, x, 4, pa[i], na[i]) for _ in range(3)]
                  for i, (m, o) in enumerate(zip(alone, opts_alone))]
    stack = SeedStack(stacked, opts_stack)
    ps, ns = gens()
    elbo_stack = [engine.run_epoch(stack, x, 4, ps, ns) for _ in range(3)]
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
    base = dict(arch="deep-128", epochs=3, batch_size=16, eval_batch_size=100)
    base.update(kw)
    return loop.TrainConfig(**base)


def _paths(folder, name="s"):
    return {s: folder / f"{name}{s}.pt" for s in SEEDS}


def _assert_same_checkpoints(a_path, b_path, atol):
    a, b = checkpoints.load_checkpoint(a_path), checkpoints.load_checkpoint(b_path)
    assert a["config"] == b["config"]
    assert a["rng"].keys() == b["rng"].keys()
    for key, state in a["rng"].items():             # generator states, and the noise's device
        same = torch.equal(state, b["rng"][key]) if torch.is_tensor(state) else state == b["rng"][key]
        assert same, key
    for key, value in a["model"].items():
        torch.testing.assert_close(b["model"][key], value, rtol=0, atol=atol)
    assert a["history"]["epoch"] == b["history"]["epoch"]
    return a, b


def test_train_seeds_writes_the_checkpoints_train_writes_alone(blobs, tmp_path):
    """End to end in float32: each seed's checkpoint (weights, Adam state, generators, history,
    config) against ``loop.train`` of that seed alone. Identical on the CPU this was written
    on; elsewhere a batched GEMM may round differently, and Adam (whose step is lr · m/√v
    whatever the gradient's size) can then move an element whose gradient is rounding noise by
    up to 2 lr a step: 2 · 3e-4 · 60 steps bounds every weight; the mean stays far below."""
    cfg = _cfg()
    alone = _paths(tmp_path, "a")
    for s in SEEDS:
        loop.train(_cfg(seed=s), blobs[:320], blobs[500:], alone[s], progress=False)
    hist = loop.train_seeds(cfg, SEEDS, blobs[:320], blobs[500:], _paths(tmp_path),
                                progress=False)
    for s in SEEDS:
        a, b = _assert_same_checkpoints(alone[s], _paths(tmp_path)[s], atol=2 * 3e-4 * 60)
        for key, value in a["model"].items():
            assert float((b["model"][key] - value).abs().mean()) < 1e-6, key
        assert b["history"]["val_elbo"] == pytest.approx(a["history"]["val_elbo"], rel=1e-4)
        assert hist[s].backend == [loop.STACKED] * 3
        ran = b["meta"]["training_backend"]
        assert ran["used"] == loop.STACKED and ran["stacked_seeds"] == list(SEEDS)
        assert set(b["optimizer"]["state"]) == set(a["optimizer"]["state"])
        # tensors copied out of the stack: each file holds only its own seed's numbers
        assert b["model"]["encoder_head.weight"].untyped_storage().nbytes() == \
            b["model"]["encoder_head.weight"].numel() * 4
        assert not checkpoints.in_progress_path(_paths(tmp_path)[s]).exists()


def test_a_killed_stack_resumes_exactly(blobs, tmp_path):
    """Killed after epoch 1, resumed: the same checkpoints as an uninterrupted stacked run; and a
    seed left one epoch behind (killed between two seeds' checkpoints) catches up alone."""
    data = (blobs[:320], blobs[500:])
    loop.train_seeds(_cfg(), SEEDS, *data, _paths(tmp_path, "u"), progress=False)

    class Kill(Exception):
        pass

    def kill_after(epoch):
        def hook(e, histories):
            if e == epoch:
                raise Kill
        return hook

    with pytest.raises(Kill):
        loop.train_seeds(_cfg(), SEEDS, *data, _paths(tmp_path, "k"), progress=False,
                             on_epoch_end=kill_after(1))
    assert all(len(checkpoints.load_checkpoint(checkpoints.in_progress_path(p))["history"]["epoch"]) == 1
               for p in _paths(tmp_path, "k").values())
    loop.train_seeds(_cfg(), SEEDS, *data, _paths(tmp_path, "k"), progress=False)
    for s in SEEDS:
        _assert_same_checkpoints(_paths(tmp_path, "u")[s], _paths(tmp_path, "k")[s], atol=0)

    # seed 1 one epoch behind the others
    lag = _paths(tmp_path, "l")
    saved = {}

    def keep_seed_1(e, histories):
        if e == 1:
            saved["epoch1"] = checkpoints.in_progress_path(lag[1]).read_bytes()
        if e == 2:
            raise Kill
    with pytest.raises(Kill):
        loop.train_seeds(_cfg(), SEEDS, *data, lag, progress=False, on_epoch_end=keep_seed_1)
    checkpoints.in_progress_path(lag[1]).write_bytes(saved["epoch1"])
    hist = loop.train_seeds(_cfg(), SEEDS, *data, lag, progress=False)
    assert hist[1].backend == [loop.STACKED, "fast", loop.STACKED]   # caught up alone
    for s in SEEDS:
        _assert_same_checkpoints(_paths(tmp_path, "u")[s], lag[s], atol=2 * 3e-4 * 60)


def test_a_nan_in_one_seed_names_it_and_keeps_every_last_good_checkpoint(blobs, tmp_path):
    paths = _paths(tmp_path)

    class Kill(Exception):
        pass

    def stop(e, histories):
        raise Kill
    with pytest.raises(Kill):
        loop.train_seeds(_cfg(), SEEDS, blobs[:320], blobs[500:], paths, progress=False,
                             on_epoch_end=stop)
    partial = checkpoints.in_progress_path(paths[1])
    ckpt = checkpoints.load_checkpoint(partial)
    ckpt["model"]["decoder_head.weight"][0, 0] = float("nan")        # seed 1 goes bad
    torch.save(ckpt, partial)
    before = {s: checkpoints.in_progress_path(p).read_bytes() for s, p in paths.items()}
    with pytest.raises(NonFiniteLossError, match=r"seed 1 became non-finite at epoch 2, step 1 ") as err:
        loop.train_seeds(_cfg(), SEEDS, blobs[:320], blobs[500:], paths, progress=False)
    assert "last good epoch (1)" in str(err.value)
    after = {s: checkpoints.in_progress_path(p).read_bytes() for s, p in paths.items()}
    assert after == before                          # nothing overwritten: epoch 1 kept for all


def test_the_single_model_path_stays(blobs, tmp_path):
    """One seed, the autograd backend, or stack_seeds off: seeds train one after another."""
    h = loop.train_seeds(_cfg(epochs=1), [5], blobs[:160], blobs[500:], {5: tmp_path / "a.pt"},
                             progress=False)
    assert h[5].backend == ["fast"]
    h = loop.train_seeds(_cfg(epochs=1, backend="autograd"), [0, 1], blobs[:160],
                             blobs[500:], {0: tmp_path / "b0.pt", 1: tmp_path / "b1.pt"},
                             progress=False)
    assert h[0].backend == h[1].backend == ["autograd"]
    h = loop.train_seeds(_cfg(epochs=1), [0, 1], blobs[:160], blobs[500:],
                             {0: tmp_path / "c0.pt", 1: tmp_path / "c1.pt"}, stack=False,
                             progress=False)
    assert h[0].backend == h[1].backend == ["fast"]
    with pytest.raises(ValueError, match="distinct"):
        loop.train_seeds(_cfg(), [1, 1], blobs[:160], blobs[500:], {1: tmp_path / "d.pt"})


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
    """scripts/train_seeds.py: a bad parameter is one line naming it, no traceback."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_seeds.py"), "--profile",
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
        paths = {s: tmp_path / f"{arch}-{s}.pt" for s in (0, 1)}
        h = loop.train_seeds(_cfg(arch=arch, epochs=1), [0, 1], blobs[:64], blobs[500:],
                                 paths, progress=False)
        assert h[0].backend == h[1].backend == [expected]
        why = checkpoints.load_checkpoint(paths[0])["meta"]["training_backend"]["stacking"]
        assert "parameters" in why
    with pytest.raises(ValueError, match="stack must be"):
        loop.train_seeds(_cfg(), [0, 1], blobs[:64], blobs[500:], paths, stack="yes")
