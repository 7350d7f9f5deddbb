"""A fingerprint of the trainer: three short trainings on real MNIST — one model by the fast
step, one by autograd, three seeds as one stack — and the SHA-256 of every tensor their
checkpoints hold (weights, Adam's state, the generators, the history but its seconds), with
their configs. Two commits whose fingerprints are equal train bit for bit alike on this
machine: the guard of a refactor of training, as scripts/compare_reports.py is of the steps.

    python scripts/training_fingerprint.py OUT_DIR > after.json    # then diff against before.json

Needs $MNIST_SOURCE (or ../shared/mnist beside the project); one thread, about a minute.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

from vae_report.data import load_mnist
from vae_report.train import checkpoints
from vae_report.train.loop import train_models
from vae_report.train.state import TrainConfig

#: Every field, spelled out: a fingerprint must not move when a default elsewhere does.
BASE = dict(latent_dim=64, init="default", decoder_sigma="softplus", encoder_std="softplus",
            lr=3e-4, epochs=2, batch_size=16, seed=0, eval_batch_size=300, backend="auto",
            eval_seed=1234, check_every=500)
TRAININGS = {
    "single": [dict(arch="deep-128", seed=0)],
    "autograd": [dict(arch="deep-256", seed=1, backend="autograd")],
    "stack": [dict(arch="vanilla", seed=s) for s in (0, 1, 2)],
}


def _digest(obj: Any, h: "hashlib._Hash") -> None:
    if isinstance(obj, torch.Tensor):
        h.update(obj.detach().cpu().contiguous().numpy().tobytes())
        h.update(f"{obj.dtype}{tuple(obj.shape)}".encode())
    elif isinstance(obj, dict):
        for key in sorted(obj, key=str):
            if key != "seconds":                    # wall time: the one part that may differ
                h.update(str(key).encode())
                _digest(obj[key], h)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _digest(value, h)
    else:
        h.update(repr(obj).encode())


def fingerprint(out: Path, source: str) -> dict[str, Any]:
    data = load_mnist(out / "data", source, 0.2, 0).subset(1500, 300)
    torch.set_num_threads(1)
    result = {}
    for name, models in TRAININGS.items():
        paths = [out / f"{name}{i}.pt" for i in range(len(models))]
        train_models([TrainConfig(**{**BASE, **m}) for m in models], data.train, data.val, paths,
                     stack=name == "stack", progress=False)
        for path in paths:
            ckpt = checkpoints.load_checkpoint(path)
            entry = {"config": ckpt["config"], "backend": ckpt["history"]["backend"]}
            for part in ("model", "optimizer", "rng", "history"):
                h = hashlib.sha256()
                _digest(ckpt[part], h)
                entry[part] = h.hexdigest()
            result[path.stem] = entry
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="a scratch folder for the checkpoints")
    args = ap.parse_args(argv)
    source = os.environ.get("MNIST_SOURCE") or str(Path(__file__).resolve().parents[2] / "shared" / "mnist")
    if not Path(source).is_dir():
        print(f"error: no MNIST idx folder at {source}: set MNIST_SOURCE", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    print(json.dumps(fingerprint(args.out, source), indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
