"""Train every seed of one (run, architecture) into its checkpoint; the Snakefile's training job.

    vae-train --profile full --run original --arch deep-512 [-p KEY VALUE]...
    vae-train --profile full --run original --arch vanilla deep-128 ... --together

(``vae-train`` is ``python -m vae_report.workflow.train_job``, installed by ``make setup``.)

The parameters are the notebooks' (``params/base.yaml``, ``params/runs/<run>.yaml``,
``params/profiles/<profile>.yaml``, then ``-p`` values read as YAML), checked the same way. The
run's ``seeds`` are trained side by side as one stacked model when ``stack_seeds`` asks for it
(``auto``: on a GPU, and on a CPU for the small models that gain) and the fast step knows the
model (``vae_report.train.seed_stack``), else one after another; either way each
seed gets the checkpoint ``checkpoints/<profile>/<run>/seed-<s>/<arch>.pt`` it would get from
``notebooks/01-train.ipynb`` alone, which then only reads it and draws the learning curves.
With several architectures and ``--together`` (the Snakefile's job on a GPU: ``train_per:
run``) all their models are stepped each step in one process — one CUDA graph for the whole run
(``loop.train_models``); without it they train one architecture after another.
A killed job resumes every seed from its last finished epoch; Ctrl-C prints "interrupted" and
exits with status 130.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--arch", required=True, nargs="+", help="one or more architectures")
    ap.add_argument("--together", action="store_true",
                    help="step every model of the architectures each step, in one process")
    ap.add_argument("-p", dest="values", action="append", default=[], nargs=2,
                    metavar=("KEY", "VALUE"), help="one parameter, read as YAML (repeatable)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    # the trainer says which seeds resume from which epoch (vae_report.train.loop.log)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    start = time.time()
    label = f"{args.profile}/{args.run}/{'+'.join(args.arch)}"
    try:
        import yaml

        from vae_report.train import loop, state
        from vae_report.devices import pick_device, set_threads
        from vae_report.workflow.notebook import study_data
        from vae_report.params import load_params
        from vae_report.provenance import provenance

        given = {key: yaml.safe_load(value) for key, value in args.values}
        models = [dataclasses.replace(params, seed=s)                     # every (arch, seed)
                  for params in (load_params(args.profile, args.run, **{**given, "arch": a})
                                 for a in args.arch)
                  for s in params.seeds]
        params = models[0]
        set_threads(params.threads)
        device = pick_device(params.device)
        print(f"[{time.strftime('%H:%M:%S')}] training {label}, seeds {params.seeds} "
              f"(stack_seeds: {params.stack_seeds}{', together' * args.together}) on {device}",
              flush=True)
        data = study_data(params)
        histories = loop.train_models(
            [state.TrainConfig.from_params(p) for p in models], data.train, data.val,
            [p.checkpoint_path for p in models], device,
            meta=[provenance(p.as_dict()) for p in models], stack=params.stack_seeds,
            progress=not args.quiet, together=args.together)
    except (ValueError, RuntimeError, FloatingPointError, OSError) as exc:
        # the suite's errors name the problem and the fix: the message, not a traceback
        print(f"[{time.strftime('%H:%M:%S')}] failed {label}: {type(exc).__name__}: {exc}",
              file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(f"[{time.strftime('%H:%M:%S')}] interrupted {label} after {time.time() - start:.0f} s; "
              f"the next run resumes every seed from its last finished epoch", flush=True)
        return 130
    ends = ", ".join(f"{p.arch} seed {p.seed}: val ELBO {h.val_elbo[-1]:.1f} ({h.backend[-1]})"
                     for p, h in zip(models, histories))
    print(f"[{time.strftime('%H:%M:%S')}] trained {label} in {time.time() - start:.0f} s: {ends}",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
