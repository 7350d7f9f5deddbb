import pytest
import torch

import vae_core as vc


def _config(**kw):
    base = dict(arch="deep-128", epochs=3, batch_size=32, seed=0, eval_batch_size=200)
    base.update(kw)
    return vc.TrainConfig(**base)


@pytest.mark.parametrize("arch", ["vanilla", "deep-256-128"])
def test_hand_written_gradient_equals_autograd(arch, blobs):
    """The trainer's elbo_step computes the gradient by hand; it must be autograd's."""
    torch.manual_seed(0)
    model = vc.build_model(arch, init="kaiming")
    with torch.no_grad():                       # a sigma away from its initial 1
        model.decoder_raw_std.fill_(-1.5)
    x = blobs[:24]
    terms = vc.elbo_terms(model, x, torch.Generator().manual_seed(7))
    (-terms.elbo.mean()).backward()
    expected = {n: p.grad.clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.full_like(p, 123.0)      # stale values must be overwritten, not added to
    elbo = vc.elbo_step(model, x, torch.Generator().manual_seed(7))
    assert torch.allclose(elbo, terms.elbo.detach(), rtol=1e-5, atol=1e-3)
    for name, p in model.named_parameters():
        scale = expected[name].abs().max()
        assert scale > 0, name
        assert torch.allclose(p.grad, expected[name], rtol=1e-4, atol=1e-5 * float(scale)), name


def _adam_run(model, optimizer, x, steps, use_stepper):
    gen = torch.Generator().manual_seed(3)
    vc.allocate_grads(model)
    for i in range(steps):
        vc.elbo_step(model, x[8 * i:8 * i + 8], gen)
        stepper = vc.fused_adam_stepper(optimizer) if use_stepper else None
        (stepper or optimizer.step)()


def test_fused_adam_stepper_is_bit_for_bit_optimizer_step(blobs):
    """The trainer's direct fused-Adam call must be exactly Adam.step(), state included."""
    runs = []
    for use_stepper in (False, True):
        torch.manual_seed(0)
        model = vc.build_model("deep-128", init="kaiming")
        opt = vc.make_optimizer(model, 1e-3, torch.device("cpu"))
        assert vc.fused_adam_stepper(opt) is None          # no state before the first step
        _adam_run(model, opt, blobs, 12, use_stepper)
        assert vc.fused_adam_stepper(opt) is not None      # so the second run did use it
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
        assert vc.fused_adam_stepper(opt) is None


def test_training_raises_the_elbo(blobs, tmp_path):
    # 10 epochs x 16 steps of batch 32 = 160 steps, plus the first evaluation before training
    model = vc.build_model("deep-128")
    before = vc.evaluate_elbo(model, blobs[500:], seed=0)["elbo"]
    cfg = _config(epochs=20, batch_size=32, lr=1e-3)
    model, hist = vc.train(cfg, blobs[:500], blobs[500:], tmp_path / "c.pt", progress=False)
    assert len(hist.epoch) == 20 and hist.epoch == list(range(1, 21))
    assert hist.val_elbo[-1] > before + 100
    assert hist.train_elbo[-1] > hist.train_elbo[0]
    assert all(s > 0 for s in hist.seconds)


def test_same_seed_same_numbers(blobs, tmp_path):
    _, h1 = vc.train(_config(), blobs[:300], blobs[500:], tmp_path / "a.pt", progress=False)
    _, h2 = vc.train(_config(), blobs[:300], blobs[500:], tmp_path / "b.pt", progress=False)
    _, h3 = vc.train(_config(seed=1), blobs[:300], blobs[500:], tmp_path / "c.pt", progress=False)
    assert h1.train_elbo == h2.train_elbo and h1.val_elbo == h2.val_elbo
    assert h1.train_elbo != h3.train_elbo


def test_kill_and_resume_reproduces_the_history(blobs, tmp_path):
    full_model, full = vc.train(_config(epochs=4), blobs[:300], blobs[500:], tmp_path / "full.pt",
                                progress=False)

    def kill_after_two(epoch, history):
        if epoch == 2:
            raise KeyboardInterrupt

    ckpt = tmp_path / "resumed.pt"
    with pytest.raises(KeyboardInterrupt):
        vc.train(_config(epochs=4), blobs[:300], blobs[500:], ckpt, progress=False,
                 on_epoch_end=kill_after_two)
    assert len(vc.load_checkpoint(ckpt)["history"]["epoch"]) == 2
    model, resumed = vc.train(_config(epochs=4), blobs[:300], blobs[500:], ckpt, progress=False)
    assert resumed.train_elbo == full.train_elbo and resumed.val_elbo == full.val_elbo
    for a, b in zip(model.parameters(), full_model.parameters()):
        assert torch.equal(a, b)


def test_checkpoint_contents_and_reload(blobs, tmp_path):
    meta = vc.provenance({"arch": "deep-128"})
    model, hist = vc.train(_config(epochs=1), blobs[:100], blobs[500:], tmp_path / "c.pt",
                           meta=meta, progress=False)
    ckpt = vc.load_checkpoint(tmp_path / "c.pt")
    assert set(ckpt) == {"model", "optimizer", "rng", "history", "config", "meta"}
    assert ckpt["meta"]["versions"]["torch"] == torch.__version__.split("+")[0] or \
        ckpt["meta"]["versions"]["torch"].startswith(torch.__version__.split("+")[0])
    reloaded, _ = vc.load_model(tmp_path / "c.pt")
    x = blobs[:5]
    torch.testing.assert_close(vc.reconstruct(reloaded, x), vc.reconstruct(model, x))


def test_checkpoint_of_another_config_is_refused(blobs, tmp_path):
    vc.train(_config(epochs=1), blobs[:100], blobs[500:], tmp_path / "c.pt", progress=False)
    with pytest.raises(ValueError, match="different config"):
        vc.train(_config(epochs=1, lr=1e-3), blobs[:100], blobs[500:], tmp_path / "c.pt",
                 progress=False)


def test_non_finite_loss_names_epoch_and_step_and_keeps_checkpoint(blobs, tmp_path):
    ckpt = tmp_path / "c.pt"
    vc.train(_config(epochs=1), blobs[:96], blobs[500:], ckpt, progress=False)
    good = vc.load_checkpoint(ckpt)
    bad = blobs[:96].clone()
    bad[70] = float("nan")   # batch 32, no shuffle guarantee: find the step it lands in
    with pytest.raises(vc.NonFiniteLossError, match=r"epoch 1, step \d"):
        vc.train(_config(epochs=2), bad, blobs[500:], ckpt, progress=False)
    kept = vc.load_checkpoint(ckpt)
    assert kept["history"] == good["history"]
    for k, v in good["model"].items():
        assert torch.equal(kept["model"][k], v)


def test_missing_checkpoint_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the training notebook"):
        vc.load_model(tmp_path / "none.pt")


def test_corrupt_checkpoint_message(tmp_path):
    p = tmp_path / "c.pt"
    p.write_bytes(b"not a checkpoint")
    with pytest.raises(vc.DataError, match="unreadable.*delete it and retrain"):
        vc.load_model(p)
