import pytest
import torch
from torch import nn

import vae_core as vc
from vae_report import provenance
from vae_report.train import checkpoints, engine, loop
from vae_report.metrics import evaluation
from vae_report.errors import DataError, NonFiniteLossError

from configs import train_config


def _config(**kw):
    return train_config(**{**dict(arch="deep-128", epochs=3, batch_size=32, seed=0,
                                  eval_batch_size=200), **kw})


def _train(config, train_x, val_x, path, model=None, meta=None, **options):
    """One model through the trainer's one entry: the trained module and its history."""
    (history,) = loop.train_models([config], train_x, val_x, [path], models=[model], meta=[meta],
                                   **{"progress": False, **options})
    return (model if model is not None else checkpoints.load_model(path)[0]), history


def test_training_raises_the_elbo(blobs, tmp_path):
    # 20 epochs x 16 steps of batch 32 = 320 steps on 6 noisy prototypes: a random model's
    # ELBO (≈ −900 nats at sigma 1) rises by hundreds of nats
    model = vc.build_model("deep-128")
    before = evaluation.evaluate_elbo(model, blobs[500:], seed=0)["elbo"]
    cfg = _config(epochs=20, batch_size=32, lr=1e-3)
    model, hist = _train(cfg, blobs[:500], blobs[500:], tmp_path / "c.pt", progress=False)
    assert len(hist.epoch) == 20 and hist.epoch == list(range(1, 21))
    assert hist.val_elbo[-1] > before + 100
    assert hist.train_elbo[-1] > hist.train_elbo[0]
    assert all(s > 0 for s in hist.seconds)
    assert hist.backend == ["fast"] * 20                         # auto chose the fast step


def test_both_backends_train_the_same_model(blobs, tmp_path):
    """Same seed, same noise order: the backends differ only by float rounding. Over 3 epochs
    (30 Adam steps) the histories agree to well under a nat on an ELBO of hundreds."""
    runs = {}
    for backend in ("fast", "autograd"):
        runs[backend] = _train(_config(backend=backend, batch_size=32), blobs[:300],
                                       blobs[500:], tmp_path / f"{backend}.pt", progress=False)
    (m_fast, h_fast), (m_auto, h_auto) = runs["fast"], runs["autograd"]
    assert h_fast.backend == ["fast"] * 3 and h_auto.backend == ["autograd"] * 3
    for a, b in zip(h_fast.val_elbo, h_auto.val_elbo):
        assert abs(a - b) < 5e-4 * abs(a)                  # 0.05 % of the ELBO
    # Adam moves a weight by ≈ lr = 3e-4 a step whatever its gradient's size, so an element whose
    # gradient is rounding noise may drift by up to 30 lr; the mean over a layer cannot (measured
    # here: 3e-10 mean, 4e-7 max)
    for (name, a), b in zip(m_fast.named_parameters(), m_auto.parameters()):
        assert float((a - b).detach().abs().mean()) < 1e-6, name
    meta = checkpoints.load_checkpoint(tmp_path / "autograd.pt")["meta"]["training_backend"]
    assert meta["requested"] == "autograd" and meta["used"] == "autograd"


def test_a_model_the_fast_step_does_not_know_trains_through_autograd(blobs, tmp_path):
    torch.manual_seed(0)
    model = vc.build_model("deep-128")
    model.encoder.insert(1, nn.LayerNorm(128))                   # Linear, LayerNorm, ReLU
    model.decoder.append(nn.Dropout(0.1))
    before = evaluation.evaluate_elbo(model, blobs[500:], seed=0)["elbo"]
    cfg = _config(epochs=6, lr=1e-3)
    trained, hist = _train(cfg, blobs[:500], blobs[500:], tmp_path / "c.pt",
                                   progress=False, model=model)
    assert hist.backend == ["autograd"] * 6
    assert hist.val_elbo[-1] > before + 100
    meta = checkpoints.load_checkpoint(tmp_path / "c.pt")["meta"]["training_backend"]
    assert meta["used"] == "autograd" and "LayerNorm" in meta["auto_reason"]
    with pytest.raises(ValueError, match="backend 'fast' cannot train this model.*LayerNorm"):
        _train(_config(epochs=1, backend="fast"), blobs[:64], blobs[500:],
                       tmp_path / "fast.pt", progress=False, model=model)


def test_autograd_backend_step_is_the_reference_update(blobs):
    """One autograd epoch = elbo_terms + backward + Adam.step(), nothing else."""
    torch.manual_seed(0)
    a, b = vc.build_model("vanilla"), vc.build_model("vanilla")
    b.load_state_dict(a.state_dict())
    opt_a, opt_b = torch.optim.Adam(a.parameters(), lr=1e-3), torch.optim.Adam(b.parameters(), lr=1e-3)
    x = blobs[:64]
    engine.run_epoch(engine.OneModel(a, opt_a, "autograd"), x, 16,
                     [torch.Generator().manual_seed(0)], [torch.Generator().manual_seed(1)],
                     check_every=500)
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    noise = torch.Generator().manual_seed(1)
    for i in range(4):
        loss = vc.elbo_terms(b, x[perm[16 * i:16 * i + 16]], noise).loss
        opt_b.zero_grad()
        loss.backward()
        opt_b.step()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_same_seed_same_numbers(blobs, tmp_path):
    train = lambda cfg, name: _train(cfg, blobs[:300], blobs[500:], tmp_path / name,
                                             progress=False)[1]
    h1, h2, h3 = train(_config(), "a.pt"), train(_config(), "b.pt"), train(_config(seed=1), "c.pt")
    assert h1.train_elbo == h2.train_elbo and h1.val_elbo == h2.val_elbo
    assert h1.train_elbo != h3.train_elbo


def test_checkpoint_contents_and_reload(blobs, tmp_path):
    meta = provenance.provenance({"arch": "deep-128"})
    model, hist = _train(_config(epochs=1), blobs[:100], blobs[500:], tmp_path / "c.pt",
                                 meta=meta, progress=False)
    ckpt = checkpoints.load_checkpoint(tmp_path / "c.pt")
    assert set(ckpt) == set(checkpoints.CHECKPOINT_KEYS) == {"model", "optimizer", "rng",
                                                             "history", "config", "meta"}
    assert ckpt["meta"]["versions"]["torch"] == torch.__version__.split("+")[0] or \
        ckpt["meta"]["versions"]["torch"].startswith(torch.__version__.split("+")[0])
    assert ckpt["meta"]["training_backend"]["used"] == "fast"
    assert ckpt["history"]["backend"] == ["fast"]
    reloaded, _ = checkpoints.load_model(tmp_path / "c.pt")
    x = blobs[:5]
    torch.testing.assert_close(evaluation.reconstruct(reloaded, x), evaluation.reconstruct(model, x))


def test_a_checkpoint_from_before_backends_resumes(blobs, tmp_path):
    """Checkpoints written before `backend` existed lack it in config and history: resuming
    takes the default and marks the old epochs 'unrecorded'."""
    path = tmp_path / "c.pt"
    _train(_config(epochs=1), blobs[:100], blobs[500:], path, progress=False)
    old = torch.load(path, weights_only=True)
    del old["config"]["backend"], old["history"]["backend"]
    torch.save(old, path)
    _, hist = _train(_config(epochs=2), blobs[:100], blobs[500:], path, progress=False)
    assert hist.backend == ["unrecorded", "fast"]


def test_more_epochs_extend_a_finished_checkpoint(blobs, tmp_path):
    _, four = _train(_config(epochs=4), blobs[:300], blobs[500:], tmp_path / "a.pt",
                             progress=False)
    _train(_config(epochs=2), blobs[:300], blobs[500:], tmp_path / "b.pt", progress=False)
    _, extended = _train(_config(epochs=4), blobs[:300], blobs[500:], tmp_path / "b.pt",
                                 progress=False)
    assert extended.val_elbo == four.val_elbo
    assert len(checkpoints.load_checkpoint(tmp_path / "b.pt")["history"]["epoch"]) == 4


def test_checkpoint_of_another_config_is_refused(blobs, tmp_path):
    _train(_config(epochs=1), blobs[:100], blobs[500:], tmp_path / "c.pt", progress=False)
    with pytest.raises(ValueError, match="different config"):
        _train(_config(epochs=1, lr=1e-3), blobs[:100], blobs[500:], tmp_path / "c.pt",
                       progress=False)


def test_non_finite_loss_in_the_first_epoch_says_no_checkpoint_exists(blobs, tmp_path):
    bad = blobs[:96].clone()
    bad[5] = float("nan")
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, step \d.*no checkpoint was written"):
        _train(_config(epochs=1), bad, blobs[500:], tmp_path / "c.pt", progress=False)
    assert not (tmp_path / "c.pt").exists()


def test_missing_checkpoint_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; train it first: `make cells"):
        checkpoints.load_model(tmp_path / "none.pt")


def test_corrupt_checkpoint_message(tmp_path):
    p = tmp_path / "c.pt"
    p.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="unreadable.*delete it and retrain"):
        checkpoints.load_model(p)
    torch.save({"model": {}}, p)
    with pytest.raises(DataError, match="lacks optimizer, rng, history, config, meta"):
        checkpoints.load_model(p)


def test_a_resumed_run_says_from_which_epoch(blobs, tmp_path, caplog):
    class Stop(Exception):
        pass

    def stop(epoch, history):
        raise Stop
    with pytest.raises(Stop):
        _train(_config(epochs=2), blobs[:64], blobs[500:], tmp_path / "c.pt",
                       progress=False, on_epoch_end=stop)
    with caplog.at_level("INFO", logger="vae_report.train.loop"):
        _train(_config(epochs=2), blobs[:64], blobs[500:], tmp_path / "c.pt", progress=False)
    assert "seed 0: resumes after epoch 1 of 2 (c.partial.pt)" in caplog.messages


def test_an_interrupted_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    from vae_report import files

    def interrupted(obj, path):
        path.write_bytes(b"half a checkpoint")
        raise KeyboardInterrupt
    monkeypatch.setattr(files.torch, "save", interrupted)
    (tmp_path / "c.pt").write_bytes(b"the last epoch")
    with pytest.raises(KeyboardInterrupt):
        files.atomic_torch_save({"a": 1}, tmp_path / "c.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]
    assert (tmp_path / "c.pt").read_bytes() == b"the last epoch"


def test_metrics_json_reads_back_as_json_dumps_wrote_it_with_lists_on_one_line(tmp_path):
    """The metrics files' layout (files.json_text): what json.loads reads is what the indented
    json.dumps gave, keys sorted, and a matrix takes one line per row, not one per number."""
    import json

    from vae_report import files

    obj = {"b": [[0.1, 2, None], [True, "x ] y", -3e-8]], "a": {"z": [], "y": {}}, "g": {3: 1.5, 1: 2},
           "c": [{"k": [1, 2]}, 4], "d": (1, 2), "e": "two  spaces", "f": float("inf")}
    files.write_json(obj, tmp_path / "m.json")
    text = (tmp_path / "m.json").read_text()
    assert json.loads(text) == json.loads(json.dumps(obj, indent=2, sort_keys=True))
    assert text.index('"a"') < text.index('"b"') < text.index('"c"')
    assert '    [0.1, 2, null],\n    [true, "x ] y", -3e-08]\n' in text
    assert text.endswith("}\n") and "\n" not in json.dumps([1.0, 2.0])


def test_checkpoints_load_on_the_cpu_whatever_the_device(blobs, tmp_path):
    """A checkpoint's generator states must stay CPU byte tensors: loading them onto the GPU
    made every resume (and every 01-train notebook) fail with "RNG state must be a
    torch.ByteTensor". "meta" stands in for a device that is not the CPU."""
    _train(_config(epochs=1), blobs[:64], blobs[500:], tmp_path / "c.pt", progress=False)
    model, ckpt = checkpoints.load_model(tmp_path / "c.pt", device="meta")
    assert next(model.parameters()).device.type == "meta"
    assert ckpt["rng"]["noise_device"] == "cpu"
    for name in ("perm", "noise", "torch"):
        state = ckpt["rng"][name]
        assert state.device.type == "cpu" and state.dtype == torch.uint8, name


def test_a_checkpoint_drawn_on_another_kind_of_generator_names_the_fix(blobs, tmp_path):
    _train(_config(epochs=1), blobs[:64], blobs[500:], tmp_path / "c.pt", progress=False)
    ckpt = torch.load(tmp_path / "c.pt", weights_only=True)
    ckpt["rng"]["noise_device"] = "cuda"
    torch.save(ckpt, tmp_path / "c.pt")
    with pytest.raises(ValueError, match=r"holds a cuda noise generator's state.*delete it"):
        _train(_config(epochs=2), blobs[:64], blobs[500:], tmp_path / "c.pt",
                       progress=False)


@pytest.mark.parametrize("n, batch, latent", [(48, 16, 64), (40, 16, 64), (33, 8, 64), (30, 4, 8)])
def test_one_draw_per_epoch_equals_one_draw_per_step(n, batch, latent):
    """The epoch's noise is drawn in one call (engine.epoch_draws), which must give exactly the
    per-step draws the trainer made before: the same numbers and the same generator state after."""
    from vae_report.train.engine import epoch_draws

    per_step = torch.Generator().manual_seed(3)
    perm_gen = torch.Generator().manual_seed(2)
    expected_perm = torch.randperm(n, generator=perm_gen)
    expected = torch.cat([torch.randn((min(batch, n - i), latent), generator=per_step)
                          for i in range(0, n, batch)])
    perm, eps = epoch_draws(torch.Generator().manual_seed(2), (g := torch.Generator().manual_seed(3)),
                            n, latent, torch.float32, "cpu")
    assert torch.equal(perm, expected_perm) and torch.equal(eps, expected)
    assert torch.equal(g.get_state(), per_step.get_state())
