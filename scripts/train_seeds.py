"""Train every seed of one (run, architecture) into its checkpoint; the Snakefile's training job.

    train_seeds.py --profile full --run original --arch deep-512 [-p KEY VALUE]...

The parameters are the notebooks' (``params/base.yaml``, ``params/runs/<run>.yaml``,
``params/profiles/<profile>.yaml``, then ``-p`` values read as YAML), checked the same way. The
run's ``seeds`` are trained side by side as one stacked model when ``stack_seeds`` asks for it
(``auto``: on a GPU, and on a CPU for the small models that gain) and the fast step knows the
model (``vae_report.seed_stack``), else one after another; either way each
seed gets the checkpoint ``checkpoints/<profile>/<run>/seed-<s>/<arch>.pt`` it would get from
``notebooks/01-train.ipynb`` alone, which then only reads it and draws the learning curves.
A killed job resumes every seed from its last finished epoch; Ctrl-C prints "interrupted" and
exits with status 130.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--arch", required=True)
    ap.add_argument("-p", dest="values", action="append", default=[], nargs=2,
                    metavar=("KEY", "VALUE"), help="one parameter, read as YAML (repeatable)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    # the trainer says which seeds resume from which epoch (vae_report.training.log)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    start = time.time()
    label = f"{args.profile}/{args.run}/{args.arch}"
    try:
        import yaml

        from vae_report import training
        from vae_report.devices import pick_device, set_threads
        from vae_report.notebook import study_data
        from vae_report.params import check_params, study_parameters
        from vae_report.provenance import provenance

        values = study_parameters(args.profile, args.run)
        values.update({key: yaml.safe_load(value) for key, value in args.values})
        values.update(profile=args.profile, run=args.run, arch=args.arch)
        params = check_params(values)
        set_threads(params.threads)
        device = pick_device(params.device)
        per_seed = {s: dataclasses.replace(params, seed=s) for s in params.seeds}
        print(f"[{time.strftime('%H:%M:%S')}] training {label}, seeds {params.seeds} "
              f"(stack_seeds: {params.stack_seeds}) on {device}", flush=True)
        data = study_data(params)
        histories = training.train_seeds(
            training.TrainConfig.from_params(params), params.seeds, data.train, data.val,
            {s: p.checkpoint_path for s, p in per_seed.items()}, device,
            meta={s: provenance(p.as_dict()) for s, p in per_seed.items()},
            stack=params.stack_seeds, progress=not args.quiet)
    except (ValueError, RuntimeError, FloatingPointError, OSError) as exc:
        # the suite's errors name the problem and the fix: the message, not a traceback
        print(f"[{time.strftime('%H:%M:%S')}] failed {label}: {type(exc).__name__}: {exc}",
              file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(f"[{time.strftime('%H:%M:%S')}] interrupted {label} after {time.time() - start:.0f} s; "
              f"the next run resumes every seed from its last finished epoch", flush=True)
        return 130
    ends = ", ".join(f"seed {s}: val ELBO {h.val_elbo[-1]:.1f} ({h.backend[-1]})"
                     for s, h in histories.items())
    print(f"[{time.strftime('%H:%M:%S')}] trained {label} in {time.time() - start:.0f} s: {ends}",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
