"""Training configurations for tests, from the study's own parameter files (no code defaults)."""
import dataclasses

from vae_report.params import StudyParams, check_params, load_params
from vae_report.param_files import study_parameters
from vae_report.train.state import TrainConfig


def train_config(**changes) -> TrainConfig:
    """Run A's training configuration under the full profile (``params/*.yaml``: batch 16,
    100 epochs, …) for vanilla seed 0, with ``changes``."""
    base = TrainConfig.from_params(load_params("full", "original", arch="vanilla", seed=0))
    return dataclasses.replace(base, **changes)


def study_params(profile: str = "t", run: str = "original", **changes) -> StudyParams:
    """The quick profile's parameters of ``run`` (``params/*.yaml``) with ``changes``, filed under
    the folder name ``profile`` (a test's own project has no YAML of its own)."""
    values = {**study_parameters("quick", run), "arch": "vanilla", **changes}
    return check_params({**values, "profile": profile, "run": run})
