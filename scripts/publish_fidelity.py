"""What storing a model's weights in float16 moves: the test ELBO of each checkpoint given, in
float32 and as published (``vae_report.train.checkpoints.published_state``), on its own test images
with the noise of 02-elbo (seed 0).

    .venv/bin/python scripts/publish_fidelity.py checkpoints/full/*/seed-0/*.pt

Prints one row per model: the two ELBOs (nats per image) and their difference; the published
weights must stay within 0.5 nats (tests/report/test_models.py checks the committed ones).
"""
from __future__ import annotations

import sys


def main(paths: list[str]) -> int:
    from vae_report.explore import models
    from vae_report.train.checkpoints import published_state
    from vae_report.metrics.evaluation import evaluate_elbo

    print(f"{'model':44} {'σ':>6} {'ELBO float32':>13} {'float16':>10} {'difference':>10}")
    for path in paths:
        m = models.load(path, device="cpu")
        full = evaluate_elbo(m.model, m.test_x, m.params.eval_batch_size, seed=0)["elbo"]
        m.model.load_state_dict({k: v.float() for k, v in
                                 published_state(m.model.state_dict()).items()})
        half = evaluate_elbo(m.model, m.test_x, m.params.eval_batch_size, seed=0)["elbo"]
        print(f"{m.name:44} {m.model.sigma():6.3f} {full:13.2f} {half:10.2f} {half - full:+10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
