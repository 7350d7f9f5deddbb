"""The prepared check for the first CUDA machine: is the training correct there, and how fast?

    PYTHONPATH=. python scripts/gpu_check.py OUT_DIR [--device cuda] [--data data/gpu-check-mnist.pt] [--tiny]
    python scripts/gpu_check.py --make-subset data/gpu-check-mnist.pt   # here, from the idx files

Needs torch and numpy only (the device machine has torch 2.11 on Python 3.12 and neither
papermill, Snakemake nor LaTeX) and the project's ``vae_core`` and training modules (the
project is not installed there: ``PYTHONPATH=.`` from the project root finds them). Writes
``OUT_DIR/gpu_check.json`` (and prints each figure as it goes):

* ``environment``: torch, CUDA, the device's name and memory, Python, CPU cores;
* ``device_vs_cpu``: every architecture at batch 16 and 64 — the fast step's per-image ELBO
  and every gradient on the device against the CPU, from the same weights and noise, with the
  tolerance derived from float32 arithmetic (below); also the autograd reference on the device;
* ``stacked_vs_single``: three seeds stacked (``seed_stack``) against each alone, one step;
* ``graphed_vs_eager``: 20 training steps replayed from a CUDA graph (``engine.Graphed``)
  against the same steps run eagerly, from the same weights: the weights after them, and
  whether the graph was captured (on a CPU both are the eager step);
* ``resume``: two epochs on a small MNIST subset (``--data``, ≤ 2 MB, made by
  ``--make-subset``; synthetic digits-like blobs without it), interrupted after the first and
  resumed, against two uninterrupted epochs: equal bit for bit (the same device both times);
* ``timing``: warm steps of each design (one model and a seed stack of 3, eager and graphed) for every
  architecture at batch 16 and 64, timed under ``torch.cuda.set_sync_debug_mode("error")`` (a
  host synchronisation inside the step fails the check), and the projected training time of
  the whole study (7 architectures × 100 epochs × each run's steps × its seeds);
* ``whole_run``: the design the workflow uses on a GPU (``train_per: run``): a run's models —
  every architecture's seed stack — stepped together (``engine.Several``), eager and replayed
  from one CUDA graph, at batch 16 (run A) and 64 (run B), and the study's projected training
  time from it;
* ``evaluation``: 02-elbo's arithmetic for one model (the test ELBO and the K = 100
  importance-weighted bound over 10,000 images, the bound against K on 500) timed for the
  smallest and the largest architecture: whether evaluation on the GPU is worth batching across
  models, or whether a notebook's start-up is all that is left of it.

``--tiny`` runs every check at small sizes (CI runs it on the CPU so the script cannot rot);
the full check is sized to finish within 8 minutes on one GPU, warm-up included.

Tolerance: a float32 dot product of length n is within γ_n·Σ|a_i b_i| of the exact value,
γ_n = n·u/(1 − n·u), u = 2⁻²⁴ (Higham, §3.1), whatever order the kernel sums in; a step
chains ``L`` such products (forward and backward through L layers, the widest n = 784), so two
correct devices can differ by about L·γ_784 relative to the terms' magnitude: we allow
4·L·γ_784·scale, scale the largest |value| of the quantity compared.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

import vae_core as vc
from vae_report.train import engine, fast_step, loop, seed_stack, state, timing

UNIT_ROUNDOFF = 2.0 ** -24


def gamma(n: int) -> float:
    """γ_n = n·u / (1 − n·u): the relative error bound of a float32 dot product of length n."""
    return n * UNIT_ROUNDOFF / (1 - n * UNIT_ROUNDOFF)


def tolerance(arch: str, scale: float) -> float:
    """The largest difference two correct float32 devices may show on a quantity of magnitude
    ``scale`` computed through ``arch``'s layers (module docstring)."""
    layers = 2 * (len(vc.ARCHS[arch]) + 1)             # encoder and decoder linear layers
    return 4 * layers * gamma(vc.IMAGE_PIXELS) * scale


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------

def _step_on(model: vc.VAE, device: torch.device, x: torch.Tensor,
             eps: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The fast step's ELBO ``[B]`` and gradients of a copy of ``model`` on ``device`` (CPU)."""
    copy = type(model)(model.hidden, model.latent_dim).to(device)
    copy.load_state_dict(model.state_dict())
    fast_step.allocate_grads(copy)
    elbo = fast_step.elbo_step(copy, x.to(device), eps=eps.to(device))
    return elbo.cpu(), {n: p.grad.cpu() for n, p in copy.named_parameters()}


def device_vs_cpu(device: torch.device, archs: list[str], batches: list[int]) -> list[dict]:
    rows = []
    for arch in archs:
        for batch in batches:
            g = torch.Generator().manual_seed(7)
            torch.manual_seed(0)
            model = vc.build_model(arch)
            x = torch.rand(batch, vc.IMAGE_PIXELS, generator=g)
            eps = torch.randn(batch, model.latent_dim, generator=g)
            elbo_cpu, grads_cpu = _step_on(model, torch.device("cpu"), x, eps)
            elbo_dev, grads_dev = _step_on(model, device, x, eps)
            worst = {"elbo": float((elbo_dev - elbo_cpu).abs().max())}
            limit = {"elbo": tolerance(arch, float(elbo_cpu.abs().max()))}
            for name in grads_cpu:
                worst[name] = float((grads_dev[name] - grads_cpu[name]).abs().max())
                limit[name] = tolerance(arch, float(grads_cpu[name].abs().max()))
            # the autograd reference on the device, same noise
            ref = type(model)(model.hidden, model.latent_dim).to(device)
            ref.load_state_dict(model.state_dict())
            terms = vc.elbo_terms(ref, x.to(device), eps=eps.to(device))
            terms.loss.backward()
            worst["autograd_elbo"] = float((terms.elbo.detach().cpu() - elbo_dev).abs().max())
            limit["autograd_elbo"] = limit["elbo"]
            ok = all(worst[k] <= limit[k] for k in worst)
            rows.append({"arch": arch, "batch": batch, "ok": ok,
                         "worst_ratio": max(worst[k] / limit[k] if limit[k] else 0.0 for k in worst),
                         "elbo_diff": worst["elbo"], "elbo_tolerance": limit["elbo"]})
            print(f"  {arch:17} batch {batch:3}: {'ok' if ok else 'DIFFERS'} (worst difference "
                  f"{rows[-1]['worst_ratio']:.2g} of its tolerance)", flush=True)
    return rows


def stacked_vs_single(device: torch.device, archs: list[str], batch: int) -> list[dict]:
    rows = []
    for arch in archs:
        g = torch.Generator().manual_seed(3)
        x = torch.rand(3, batch, vc.IMAGE_PIXELS, generator=g).to(device)
        eps = torch.randn(3, batch, 64, generator=g).to(device)
        models, optimizers = timing.fresh_models(arch, range(3), device)
        alone = []
        for s, (m, opt) in enumerate(zip(models, optimizers)):
            fast_step.allocate_grads(m)
            alone.append(fast_step.elbo_step(m, x[s], eps=eps[s]).cpu())
        models, optimizers = timing.fresh_models(arch, range(3), device)
        stacked = seed_stack.SeedStack(models, optimizers).step(x, eps).cpu()
        diff = float((stacked - torch.stack(alone)).abs().max())
        limit = tolerance(arch, float(torch.stack(alone).abs().max()))
        rows.append({"arch": arch, "ok": diff <= limit, "elbo_diff": diff, "tolerance": limit})
        print(f"  {arch:17} stacked vs alone: {'ok' if diff <= limit else 'DIFFERS'} "
              f"({diff:.3g}, tolerance {limit:.3g})", flush=True)
    return rows


def graphed_vs_eager(device: torch.device, archs: list[str], batch: int,
                     steps: int = 20) -> list[dict]:
    rows = []
    for arch in archs:
        g = torch.Generator().manual_seed(5)
        x = torch.rand(steps, 1, batch, vc.IMAGE_PIXELS, generator=g).to(device)
        eps = torch.randn(steps, 1, batch, 64, generator=g).to(device)
        (eager_model,), (eager_opt,) = timing.fresh_models(arch, range(1), device)
        (graph_model,), (graph_opt,) = timing.fresh_models(arch, range(1), device)
        eager = engine.OneModel(eager_model, eager_opt, "fast")
        graphed = engine.Graphed(engine.OneModel(graph_model, graph_opt, "fast"))
        worst = 0.0
        for k in range(steps):
            a, b = eager.step(x[k], eps[k]), graphed.step(x[k], eps[k])
            worst = max(worst, float((a - b).abs().max()))
        weights = max(float((p - q).detach().abs().max())
                      for p, q in zip(eager_model.parameters(), graph_model.parameters()))
        ok = worst == 0.0 and weights == 0.0 or (
            worst <= tolerance(arch, float(a.abs().max())) and weights <= 20 * 3e-4)
        rows.append({"arch": arch, "ok": ok, "graph": graphed.state, "elbo_diff": worst,
                     "weights_diff": weights})
        print(f"  {arch:17} graphed vs eager, {steps} steps: {'ok' if ok else 'DIFFERS'} "
              f"(ELBO {worst:.3g}, weights {weights:.3g}; {graphed.state})", flush=True)
    return rows


def load_subset(path: str | None, n: int) -> torch.Tensor:
    """``n`` training images ``[n, 784]``: from the subset file, else synthetic blobs (ten
    random stroke prototypes plus noise: learnable, so the ELBO moves)."""
    if path:
        return torch.load(path, weights_only=True)["images"][:n].float() / 255
    g = torch.Generator().manual_seed(0)
    protos = (torch.rand(10, vc.IMAGE_PIXELS, generator=g) > 0.8).float()
    return (protos[torch.arange(n) % 10] * 0.9 + 0.1 * torch.rand(n, vc.IMAGE_PIXELS, generator=g))


def resume(device: torch.device, x: torch.Tensor, out: Path) -> dict[str, Any]:
    """Two epochs straight against one epoch, a stop, and a resumed second epoch."""
    # the study's values (params/base.yaml: this script reads no YAML), two epochs
    cfg = state.TrainConfig(arch="deep-256", latent_dim=64, init="default", decoder_sigma="softplus",
                           encoder_std="softplus", lr=3e-4, epochs=2, batch_size=16, seed=0,
                           eval_batch_size=500, backend="auto", eval_seed=1234, check_every=500)
    train_x, val_x = x[: len(x) * 4 // 5], x[len(x) * 4 // 5:]
    straight = out / "resume-straight.pt"
    (h_straight,) = loop.train_models([cfg], train_x, val_x, [straight], device, progress=False)

    class Stop(Exception):
        pass

    def stop(epoch: int, histories: Any) -> None:
        raise Stop

    stopped = out / "resume-stopped.pt"
    try:
        loop.train_models([cfg], train_x, val_x, [stopped], device, progress=False,
                          on_epoch_end=stop)
    except Stop:
        pass
    (h_resumed,) = loop.train_models([cfg], train_x, val_x, [stopped], device, progress=False)
    a = torch.load(straight, weights_only=True)["model"]
    b = torch.load(stopped, weights_only=True)["model"]
    equal = all(torch.equal(a[k], b[k]) for k in a) and h_straight.val_elbo == h_resumed.val_elbo
    for p in (straight, stopped):
        p.unlink()
    print(f"  two epochs on {len(train_x)} images, stopped and resumed: "
          f"{'bit-identical' if equal else 'DIFFERENT'}", flush=True)
    return {"ok": equal, "images": len(train_x), "val_elbo": h_resumed.val_elbo}


def whole_run(device: torch.device, archs: list[str], batches: list[int], steps: int,
              seeds: int) -> dict[str, Any]:
    """A run's models stepped together — one seed stack of ``seeds`` per architecture in one
    ``engine.Several`` — eager and graphed: ms a step, and the study's training projected from
    it (the two main runs, one per batch size, 100 epochs; the variants' 18 models not counted)."""
    rows, study = [], {"eager": 0.0, "graphed": 0.0}
    for batch in batches:
        row: dict[str, Any] = {"batch": batch, "models": len(archs) * seeds}
        for design, graphed in (("eager", False), ("graphed", True)):
            stepper: engine.Stepper = engine.Several(
                [seed_stack.SeedStack(*timing.fresh_models(a, range(seeds), device)) for a in archs])
            row[design] = timing.measure(engine.Graphed(stepper) if graphed else stepper, batch,
                                   device, steps)
            if "ms_per_step" in row[design]:
                study[design] += row[design]["ms_per_step"] / 1e3 * 100 * timing.epoch_steps(batch)
        rows.append(row)
        print(timing.line(f"{row['models']} models at batch {batch}", row), flush=True)
    return {"rows": rows, "projected_training_minutes": timing.projected(study, ", a run per process"),
            "steps_timed": steps, "archs": archs, "seeds_per_run": seeds}


def evaluation_timing(device: torch.device, archs: list[str], images: int,
                      k: int, curve_ks: list[int]) -> list[dict[str, Any]]:
    """Seconds of 02-elbo's three computations for a trained-size model of each architecture
    on ``images`` random test images (the arithmetic does not depend on the values)."""
    from vae_report.metrics import evaluation, iwae

    rows = []
    x = torch.rand(images, vc.IMAGE_PIXELS, generator=torch.Generator().manual_seed(3)).to(device)
    for arch in archs:
        (model,), _ = timing.fresh_models(arch, range(1), device)
        model.eval()
        row: dict[str, Any] = {"arch": arch, "images": images, "k": k}
        for name, run in (("elbo", lambda: evaluation.evaluate_elbo(model, x, 1000)),
                          ("iwae", lambda: iwae.iwae_log_likelihood(model, x, k)),
                          ("iwae_curve", lambda: iwae.iwae_curve(model, x[:500], curve_ks))):
            run()                                                     # warm-up
            timing.synchronize(device)
            t = time.perf_counter()
            run()
            timing.synchronize(device)
            row[f"{name}_seconds"] = time.perf_counter() - t
        rows.append(row)
        print(f"  {arch:17} {images} images: ELBO {row['elbo_seconds']:.2f} s, IWAE K={k} "
              f"{row['iwae_seconds']:.2f} s, IWAE vs K {row['iwae_curve_seconds']:.2f} s",
              flush=True)
    return rows


# --------------------------------------------------------------------------------------------

def make_subset(path: Path, n: int = 2000) -> None:
    """Write the first ``n`` MNIST training images (uint8, ``[n, 784]``, 1.5 MB for 2000) from
    the idx files of ``$MNIST_SOURCE`` or ``data/MNIST/raw``: what the device machine lacks."""
    from vae_report.data import load_mnist

    data = load_mnist(Path(__file__).resolve().parents[1] / "data", None, 0.2, 0)
    images = (data.train[:n] * 255).round().to(torch.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"images": images.clone(), "labels": data.train_labels[:n].clone()}, path)
    print(f"wrote {path}: {n} images, {path.stat().st_size / 1e6:.1f} MB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", type=Path, help="folder for gpu_check.json")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--data", help="the MNIST subset made by --make-subset (else synthetic)")
    ap.add_argument("--tiny", action="store_true", help="small sizes: the CPU smoke run of CI")
    ap.add_argument("--make-subset", type=Path, metavar="PATH", help="write the subset and stop")
    args = ap.parse_args(argv)
    if args.make_subset:
        make_subset(args.make_subset)
        return 0
    if args.out is None:
        ap.error("give the folder to write gpu_check.json to")
    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    archs = ["vanilla", "deep-512-256-128"] if args.tiny else list(vc.ARCHS)
    batches = [16, 64]
    start = time.time()
    report: dict[str, Any] = {"tiny": args.tiny, "environment": timing.environment(device)}
    print(f"gpu_check on {report['environment']}", flush=True)
    checks: list[tuple[str, Callable[[], Any]]] = [
        ("device_vs_cpu", lambda: device_vs_cpu(device, archs, batches)),
        ("stacked_vs_single", lambda: stacked_vs_single(device, archs, 16)),
        ("graphed_vs_eager", lambda: graphed_vs_eager(device, archs, 16)),
        ("resume", lambda: resume(device, load_subset(args.data, 200 if args.tiny else 2000),
                                  args.out)),
        ("timing", lambda: timing.timing(device, archs, batches, 20 if args.tiny else 500, timing.STUDY_SEEDS)),
        ("whole_run", lambda: whole_run(device, archs, batches, 5 if args.tiny else 300,
                                        2 if args.tiny else timing.STUDY_SEEDS)),
        ("evaluation", lambda: evaluation_timing(device, [archs[0], archs[-1]],
                                                 500 if args.tiny else 10_000,
                                                 10 if args.tiny else 100,
                                                 [1, 10] if args.tiny else [1, 10, 100, 1000])),
    ]
    failed = []
    for name, check in checks:
        print(f"{name}:", flush=True)
        t = time.time()
        try:
            report[name] = check()
        except Exception as exc:                     # record it, go on with the other checks
            report[name] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"  FAILED: {report[name]['error']}", flush=True)
        report[f"{name}_seconds"] = round(time.time() - t, 1)
        result = report[name]
        rows = result if isinstance(result, list) else result.get("rows", [result])
        if "error" in result if isinstance(result, dict) else False:
            failed.append(name)
        elif any(r.get("ok") is False for r in rows if isinstance(r, dict)):
            failed.append(name)
    report["seconds"] = round(time.time() - start, 1)
    report["failed"] = failed
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'all checks passed' if not failed else 'FAILED: ' + ', '.join(failed)} in "
          f"{report['seconds']:.0f} s; figures in {args.out / 'gpu_check.json'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
