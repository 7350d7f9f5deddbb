"""The seed report's own numbers (``../shared/SEED-REPORT.md``), in one place.

The report prints them beside ours; the tests check our models against Table 2.
"""
from __future__ import annotations

#: The seed's Table 1: the training parameters it states (its seeds and init are not stated
#: as numbers: it used one unstated seed, default init, then Kaiming for its retraining).
SEED_TABLE1: dict[str, object] = {"latent_dim": 64, "lr": 3e-4, "epochs": 100,
                                  "batch_size": 16, "val_split": 0.2}

#: The seed's parameter counts (Table 2); our models must match them exactly.
SEED_PARAM_COUNTS: dict[str, int] = {
    "vanilla": 151441,
    "deep-128": 226449,
    "deep-256": 451985,
    "deep-512": 903057,
    "deep-256-128": 493201,
    "deep-512-256": 1116561,
    "deep-512-256-128": 1157777,
}

#: The seed's test ELBO (Tables 3 and 4), in the seed's own (unstated) units.
SEED_TEST_ELBO: dict[str, dict[str, float]] = {
    "original": {"vanilla": 35.60, "deep-128": 37.00, "deep-256": 48.29, "deep-512": 56.41,
                 "deep-256-128": 38.20, "deep-512-256": 42.53, "deep-512-256-128": 33.79},
    "retrained": {"vanilla": 35.92, "deep-128": 30.90, "deep-256": 50.14, "deep-512": 49.26,
                  "deep-256-128": 13.43, "deep-512-256": 8.52, "deep-512-256-128": 25.45},
}
