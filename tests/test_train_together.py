"""A run's models in one process (loop.train_models(together=True), engine.Several): each
model ends with the checkpoint it gets when its architecture trains on its own, bit for bit;
killed, it resumes exactly; a model left behind catches up first."""
import pytest
import torch

from vae_report.train import checkpoints, loop
from vae_report.errors import NonFiniteLossError

# on a CPU `auto` stacks vanilla's seeds and trains deep-256's alone: a Several of three parts
MODELS = [("vanilla", 0), ("vanilla", 1), ("deep-256", 0), ("deep-256", 1)]


class Kill(Exception):
    pass


def _configs(epochs=3):
    return [loop.TrainConfig(arch=a, seed=s, epochs=epochs, batch_size=16, eval_batch_size=100)
            for a, s in MODELS]


def _paths(folder, name):
    return [folder / f"{name}-{a}-{s}.pt" for a, s in MODELS]


def _train(blobs, paths, together=True, **kw):
    return loop.train_models(_configs(), blobs[:160], blobs[500:], paths, together=together,
                                 progress=False, **kw)


def _assert_same(a_path, b_path):
    a, b = checkpoints.load_checkpoint(a_path), checkpoints.load_checkpoint(b_path)
    for part in ("model", "optimizer", "rng", "history"):
        assert _same(a[part], b[part], ignore="seconds"), part
    return a, b


def _same(a, b, ignore):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], ignore) for k in a if k != ignore)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y, ignore) for x, y in zip(a, b))
    return torch.equal(a, b) if torch.is_tensor(a) else a == b


def test_together_gives_each_model_what_it_gets_on_its_own(blobs, tmp_path):
    apart = _paths(tmp_path, "apart")
    hist_apart = _train(blobs, apart, together=False)
    hist = _train(blobs, _paths(tmp_path, "together"))
    assert [h.backend for h in hist] == [h.backend for h in hist_apart] == \
        [[loop.STACKED] * 3] * 2 + [["fast"] * 3] * 2
    for a_path, b_path in zip(apart, _paths(tmp_path, "together")):
        _, b = _assert_same(a_path, b_path)
        assert b["meta"]["training_backend"]["together"] == \
            "4 models of 3 architectures stepped together"


def test_a_killed_run_resumes_exactly_and_a_model_behind_catches_up(blobs, tmp_path):
    straight = _paths(tmp_path, "straight")
    _train(blobs, straight)

    def kill_after(epoch, keep=None):
        def hook(e, histories):
            if keep is not None and e == 1:          # deep-256 seed 1's epoch-1 checkpoint
                keep["bytes"] = checkpoints.in_progress_path(keep["path"]).read_bytes()
            if e == epoch:
                raise Kill
        return hook

    killed = _paths(tmp_path, "killed")
    with pytest.raises(Kill):
        _train(blobs, killed, on_epoch_end=kill_after(1))
    _train(blobs, killed)
    for a, b in zip(straight, killed):
        _assert_same(a, b)

    behind = _paths(tmp_path, "behind")
    keep = {"path": behind[3]}
    with pytest.raises(Kill):
        _train(blobs, behind, on_epoch_end=kill_after(2, keep))
    checkpoints.in_progress_path(behind[3]).write_bytes(keep["bytes"])   # one epoch behind
    hist = _train(blobs, behind)
    assert hist[3].backend == ["fast"] * 3
    for a, b in zip(straight, behind):
        _assert_same(a, b)


def test_a_nan_names_the_architecture_and_the_seed(blobs, tmp_path):
    paths = _paths(tmp_path, "nan")
    with pytest.raises(Kill):
        _train(blobs, paths, on_epoch_end=lambda e, h: (_ for _ in ()).throw(Kill))
    partial = checkpoints.in_progress_path(paths[3])
    ckpt = checkpoints.load_checkpoint(partial)
    ckpt["model"]["decoder_head.weight"][0, 0] = float("nan")
    torch.save(ckpt, partial)
    with pytest.raises(NonFiniteLossError, match=r"loss of deep-256 seed 1 became non-finite "
                                                 r"at epoch 2, step 1 ") as err:
        _train(blobs, paths)
    assert "vanilla seed 0: the checkpoint of the last good epoch (1)" in str(err.value)


def test_every_model_needs_its_own_checkpoint_and_the_same_epoch_loop(blobs, tmp_path):
    with pytest.raises(ValueError, match="checkpoint path of its own"):
        _train(blobs, [tmp_path / "same.pt"] * 4)
    configs = _configs()
    configs[1] = loop.TrainConfig(arch="vanilla", seed=1, batch_size=64)
    with pytest.raises(ValueError, match="must share batch_size, epochs; train them in separate"):
        loop.train_models(configs, blobs[:160], blobs[500:], _paths(tmp_path, "m"))
    assert not any(tmp_path.iterdir())
