"""Properties every way of training keeps — one model (the fast step or autograd), a seed stack,
a run's models stepped together: a killed run resumes exactly, a model behind the others catches
up, a non-finite loss names the model and keeps every last good checkpoint, and each model gets
the numbers it gets trained alone. One test per property, parametrised over the ways."""
from dataclasses import dataclass, field

import pytest
import torch

from vae_report.errors import NonFiniteLossError
from vae_report.train import checkpoints, loop, state

from configs import train_config

EPOCHS = 3


@dataclass(frozen=True)
class Way:
    """A way of training: its models (arch, seed), backend, and ``train_models``'s options."""

    models: tuple[tuple[str, int], ...]
    backend: str = "auto"
    stack: bool | str = False
    together: bool = False
    # what an error calls the last model ("" for one model alone)
    name: str = ""
    # how far a model that catches up alone, then rejoins a stack, may land from the straight
    # run: batched GEMMs round differently, and Adam (whose step is lr·m/√v whatever the
    # gradient's size) can move an element whose gradient is rounding noise by up to 2·lr a
    # step — 2 · 3e-4 · 30 steps bounds every weight. 0: the same arithmetic, bit for bit.
    catch_up_atol: float = 0.0
    backends: tuple[str, ...] = field(default=())


WAYS = {
    "one model, fast step": Way((("deep-128", 0),), backend="fast", backends=("fast",)),
    "one model, autograd": Way((("deep-128", 0),), backend="autograd", backends=("autograd",)),
    "seed stack": Way((("vanilla", 0), ("vanilla", 1), ("vanilla", 2)), stack=True,
                      name="seed 2", catch_up_atol=2 * 3e-4 * 30, backends=(loop.STACKED,) * 3),
    # on a CPU `auto` stacks vanilla's seeds and trains deep-256's alone: a Several of 3 parts
    "together": Way((("vanilla", 0), ("vanilla", 1), ("deep-256", 0), ("deep-256", 1)),
                    stack="auto", together=True, name="deep-256 seed 1",
                    catch_up_atol=2 * 3e-4 * 30,
                    backends=(loop.STACKED, loop.STACKED, "fast", "fast")),
}
ways = pytest.mark.parametrize("way", list(WAYS.values()), ids=list(WAYS))
#: the ways that train several models, where one can fall behind the others
several = pytest.mark.parametrize("way", [w for w in WAYS.values() if len(w.models) > 1],
                                  ids=[k for k, w in WAYS.items() if len(w.models) > 1])


class Kill(Exception):
    pass


def _configs(way: Way, epochs: int = EPOCHS) -> list[state.TrainConfig]:
    return [train_config(arch=a, seed=s, epochs=epochs, backend=way.backend, eval_batch_size=100)
            for a, s in way.models]


def _paths(way: Way, folder, name: str) -> list:
    return [folder / f"{name}-{a}-{s}.pt" for a, s in way.models]


def _train(way: Way, blobs, paths, **kw) -> list[state.History]:
    return loop.train_models(_configs(way), blobs[:160], blobs[500:], paths, stack=way.stack,
                             together=way.together, progress=False, **kw)


def _kill_after(epoch: int, keep: dict | None = None):
    """An ``on_epoch_end`` that raises Kill after ``epoch``; with ``keep``, it first saves the
    epoch-1 checkpoint of ``keep["path"]`` (to put a model one epoch behind)."""
    def hook(e, histories):
        if keep is not None and e == 1:
            keep["bytes"] = checkpoints.in_progress_path(keep["path"]).read_bytes()
        if e == epoch:
            raise Kill
    return hook


def _same(a, b, atol: float, ignore: tuple[str, ...] = ("seconds",)) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], atol, ignore) for k in a
                                            if k not in ignore)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y, atol) for x, y in zip(a, b))
    if torch.is_tensor(a):
        if atol == 0 or not a.is_floating_point():
            return torch.equal(a, b)
        return torch.allclose(a, b, rtol=0, atol=atol)
    return a == b if atol == 0 or not isinstance(a, float) else a == pytest.approx(b, rel=1e-4)


def _assert_same_checkpoints(a_path, b_path, atol: float = 0.0) -> dict:
    """The two checkpoints hold the same model, optimizer, generators and history (seconds
    aside): bit for bit; or within ``atol``, where the two trained with different steppers
    (which the history's ``backend`` says)."""
    a, b = checkpoints.load_checkpoint(a_path), checkpoints.load_checkpoint(b_path)
    assert a["config"] == b["config"]
    ignore = ("seconds",) if atol == 0 else ("seconds", "backend")
    for part in ("model", "rng", "history") + (("optimizer",) if atol == 0 else ()):
        assert _same(a[part], b[part], atol, ignore), (a_path.name, part)
    return b


@ways
def test_a_killed_run_resumes_exactly(way, blobs, tmp_path):
    straight = _paths(way, tmp_path, "straight")
    hist = _train(way, blobs, straight)
    assert [tuple(h.backend) for h in hist] == [(b,) * EPOCHS for b in way.backends]
    killed = _paths(way, tmp_path, "killed")
    with pytest.raises(Kill):
        _train(way, blobs, killed, on_epoch_end=_kill_after(1))
    # an unfinished run keeps its epochs beside the checkpoint; the final name means "finished"
    for path in killed:
        assert not path.exists()
        assert len(checkpoints.load_checkpoint(checkpoints.in_progress_path(path))["history"]["epoch"]) == 1
    with pytest.raises(FileNotFoundError, match="training is not finished.*partial.pt"):
        checkpoints.load_model(killed[0])
    _train(way, blobs, killed)
    for a, b in zip(straight, killed):
        _assert_same_checkpoints(a, b)
        assert not checkpoints.in_progress_path(b).exists()


@several
def test_a_model_behind_the_others_catches_up(way, blobs, tmp_path):
    """Killed between two models' checkpoints: the last model is one epoch behind; it catches up
    alone, then trains with the others, and every model ends where the straight run ends."""
    straight = _paths(way, tmp_path, "straight")
    _train(way, blobs, straight)
    behind = _paths(way, tmp_path, "behind")
    keep = {"path": behind[-1]}
    with pytest.raises(Kill):
        _train(way, blobs, behind, on_epoch_end=_kill_after(2, keep))
    checkpoints.in_progress_path(behind[-1]).write_bytes(keep["bytes"])
    hist = _train(way, blobs, behind)
    alone = "fast"                                   # the catch-up epoch, trained alone
    assert hist[-1].backend == [way.backends[-1], alone, way.backends[-1]]
    for a, b in zip(straight, behind):
        _assert_same_checkpoints(a, b, way.catch_up_atol)


@ways
def test_a_non_finite_loss_names_the_model_and_keeps_every_last_good_checkpoint(way, blobs,
                                                                                 tmp_path):
    paths = _paths(way, tmp_path, "nan")
    with pytest.raises(Kill):
        _train(way, blobs, paths, on_epoch_end=_kill_after(1))
    partial = checkpoints.in_progress_path(paths[-1])
    ckpt = checkpoints.load_checkpoint(partial)
    ckpt["model"]["decoder_head.weight"][0, 0] = float("nan")          # the last model goes bad
    torch.save(ckpt, partial)
    before = [checkpoints.in_progress_path(p).read_bytes() for p in paths]
    who = f"training loss of {way.name}" if way.name else "training loss"
    with pytest.raises(NonFiniteLossError, match=rf"{who} became non-finite at epoch 2, step 1 "
                                                 rf".*last good epoch \(1\) is kept at") as err:
        _train(way, blobs, paths)
    assert str(paths[0].name).replace(".pt", ".partial.pt") in str(err.value)
    assert [checkpoints.in_progress_path(p).read_bytes() for p in paths] == before


@ways
def test_each_model_gets_what_it_gets_trained_alone(way, blobs, tmp_path):
    """Each model's checkpoint against ``train_models`` of that model alone (the fast step, or
    the autograd way's own backend). A stack's batched GEMMs may round differently from one
    model's; the bound is the catch-up one above, and the mean stays far below it."""
    ours = _paths(way, tmp_path, "ours")
    _train(way, blobs, ours)
    for (arch, seed), config, path in zip(way.models, _configs(way), ours):
        alone = tmp_path / f"alone-{arch}-{seed}.pt"
        loop.train_models([config], blobs[:160], blobs[500:], [alone], stack=False, progress=False)
        b = _assert_same_checkpoints(alone, path, way.catch_up_atol)
        a = checkpoints.load_checkpoint(alone)
        for key, value in a["model"].items():
            assert float((b["model"][key] - value).abs().mean()) < 1e-6, key
    if way.together:                      # and exactly what each part gets on its own
        apart = _paths(way, tmp_path, "apart")
        loop.train_models(_configs(way), blobs[:160], blobs[500:], apart, stack=way.stack,
                          together=False, progress=False)
        for a, b in zip(apart, ours):
            assert _assert_same_checkpoints(a, b)["meta"]["training_backend"]["together"] == \
                f"{len(way.models)} models of 3 architectures stepped together"


def test_models_trained_in_one_call_need_their_own_checkpoints_and_one_epoch_loop(blobs, tmp_path):
    way = WAYS["together"]
    with pytest.raises(ValueError, match="checkpoint path of its own"):
        _train(way, blobs, [tmp_path / "same.pt"] * 4)
    configs = _configs(way)
    configs[1] = train_config(arch="vanilla", seed=1, batch_size=64)
    with pytest.raises(ValueError, match="must share batch_size, epochs; train them in separate"):
        loop.train_models(configs, blobs[:160], blobs[500:], _paths(way, tmp_path, "m"))
    assert not any(tmp_path.iterdir())
