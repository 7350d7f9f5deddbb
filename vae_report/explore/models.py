"""Finding and loading trained models by name: ``load("full/retrained/seed-0/deep-512")`` (or a
path to a ``.pt``) gives an :class:`Explorer` — the model, the data split and subsets it was
evaluated on (read from its own parameters, not typed again), and the digit classifier when the
study has one; and the explore notebook's own settings. ``views`` draws what is inside it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
import functools
import os

from torch import Tensor
import numpy as np
import torch

import vae_core

from vae_report import layout
from vae_report.data import MNISTSplits, load_mnist
from vae_report.devices import pick_device
from vae_report.errors import DataError
from vae_report.metrics.classifier import DigitClassifier, classify, load_classifier
from vae_report.metrics.evaluation import evaluate_elbo, posterior_means
from vae_report.param_files import read_yaml
from vae_report.params import StudyParams, check_params, parameter_types
from vae_report.train.checkpoints import repair_advice, in_progress_path, load_weights
SPEC_FORMAT = "<profile>/<run>/seed-<n>/<arch>"


class ExploreError(ValueError):
    """A model that is not trained, an index out of range, an image that is not a digit; the
    message names the problem and the fix."""


@dataclass
class Explorer:
    """A trained model ready to look at: the model, its parameters, its data, the classifier."""

    name: str
    model: vae_core.VAE
    params: StudyParams
    data: MNISTSplits
    classifier: DigitClassifier | None
    device: torch.device
    source: Path
    notes: list[str] = field(default_factory=list)
    _collapse: dict[str, Tensor] | None = field(default=None, repr=False)

    @property
    def test_x(self) -> Tensor:
        """``[N, 784]`` the test images the model was evaluated on, on its device."""
        return self.data.test.to(self.device)

    def test_image(self, index: int) -> Tensor:
        """``[784]`` test image ``index``; an :class:`ExploreError` naming the range otherwise."""
        n = len(self.data.test)
        if not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            raise ExploreError(f"test image {index!r} is out of range: {self.name} is evaluated "
                               f"on {n} test images, 0–{n - 1}")
        return self.data.test[int(index)].to(self.device)

    def collapse(self) -> dict[str, Tensor]:
        """Per-dimension ``kl [D]`` (nats, test set, one sample, seed 0 as in 03-collapse) and
        ``activity [D]`` (Cov_x E_q[z|x]); computed once."""
        if self._collapse is None:
            x = self.test_x
            kl = torch.tensor(evaluate_elbo(self.model, x, self.params.eval_batch_size,
                                            seed=0)["kl_per_dim"])
            activity = posterior_means(self.model, x, self.params.eval_batch_size).var(0).cpu()
            self._collapse = {"kl": kl, "activity": activity}
        return self._collapse

    def judge(self, images: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Classes and confidences ``[N]`` of ``images [N, 784]``; -1 and NaN without a
        classifier."""
        if self.classifier is None:
            return np.full(len(images), -1), np.full(len(images), np.nan)
        judged = classify(self.classifier, images.to(self.device))
        return judged["classes"].cpu().numpy(), judged["confidence"].cpu().numpy()


# --------------------------------------------------------------------------------------------
# Finding and loading models
# --------------------------------------------------------------------------------------------

def _trained_files(profile: str | None) -> dict[str, Path]:
    """spec → file of every finished model: checkpoints first, then published weights."""
    found: dict[str, Path] = {}
    roots = ((layout.project_path("checkpoints"), "*/*/seed-*/*.pt"),
             (layout.project_path("reports"), "*/models/*/seed-*/*.pt"))
    for root, pattern in roots:
        for path in sorted(root.glob(pattern)):
            parts = path.relative_to(root).with_suffix("").parts
            if ".partial" in path.name or (profile and parts[0] != profile):
                continue
            spec = "/".join(p for p in parts if p != "models")
            found.setdefault(spec, path)
    return found


def available(profile: str | None = None) -> list[str]:
    """The specs (``<profile>/<run>/seed-<n>/<arch>``) of every trained model here, of one
    ``profile`` or all: finished checkpoints and the weights published under
    ``reports/<profile>/models/``."""
    return sorted(_trained_files(profile))


def parse_spec(spec: str) -> tuple[str, str, int, str]:
    """``"full/retrained/seed-0/deep-512"`` → ``("full", "retrained", 0, "deep-512")``."""
    parts = spec.strip("/").split("/")
    if (len(parts) != 4 or not parts[2].startswith("seed-")
            or not parts[2].removeprefix("seed-").isdigit()):
        raise ExploreError(f"model {spec!r}: name it as {SPEC_FORMAT} (e.g. "
                           f"'full/retrained/seed-0/deep-512') or give a path to a .pt file")
    if parts[3] not in vae_core.ARCHS:
        raise ExploreError(f"model {spec!r}: unknown architecture {parts[3]!r}; choose one of "
                           f"{', '.join(vae_core.ARCHS)}")
    return parts[0], parts[1], int(parts[2].removeprefix("seed-")), parts[3]


def resolve(spec: str | os.PathLike) -> Path:
    """The file behind ``spec``: a path to a ``.pt`` as given; a spec's checkpoint (full
    precision) when it is here, else its published weights. A model that is not trained → an
    :class:`ExploreError` listing what is, and the command that trains it."""
    as_path = Path(spec)
    if as_path.suffix == ".pt" or as_path.exists():
        if not as_path.exists():
            raise ExploreError(f"no model file at {as_path}")
        if as_path.is_dir() or as_path.suffix != ".pt":
            what = "a folder" if as_path.is_dir() else "not a model file (.pt)"
            trained = available()
            raise ExploreError(
                f"{as_path} is {what}: name a model as {SPEC_FORMAT} (e.g. "
                f"'full/retrained/seed-0/deep-512') or give a .pt file. Trained here: "
                f"{', '.join(trained) if trained else 'none'}")
        return as_path
    profile, run, seed, arch = parse_spec(str(spec))
    for path in (layout.checkpoint_path(profile, run, seed, arch),
                 layout.published_model_path(profile, run, seed, arch)):
        if path.exists():
            return path
    trained = available()
    partial = in_progress_path(layout.checkpoint_path(profile, run, seed, arch))
    state = (f" its training stopped early ({layout.relative(partial)} holds the last finished "
             f"epoch: the same command resumes it);" if partial.exists() else "")
    raise ExploreError(
        f"model {spec!r} is not trained here;{state} train it with `make report PROFILE={profile} "
        f"RUNS={run} ARCHS={arch}` (it trains the seeds listed in params/runs/{run}.yaml). "
        f"Trained here: {', '.join(trained) if trained else 'none'}")


@functools.lru_cache(maxsize=2)
def _study_data(data_dir: Path, source: str | None, val_split: float, split_seed: int,
                train_subset: int, eval_subset: int) -> MNISTSplits:
    # cached: a compare view loads the same split for every model it holds
    return load_mnist(data_dir, source, val_split, split_seed).subset(train_subset, eval_subset)


def _classifier_for(profile: str, device: torch.device) -> tuple[DigitClassifier | None, str | None]:
    for path in (layout.classifier_path(profile), layout.published_classifier_path(profile)):
        if path.exists():
            return load_classifier(path, device), None
    return None, (f"no digit classifier for profile {profile!r}: classes and confidences are "
                  f"left out (`make report PROFILE={profile}` trains it)")


def load(spec: str | os.PathLike, device: str = "auto") -> Explorer:
    """Load a trained model by spec (``<profile>/<run>/seed-<n>/<arch>``) or file path.

    The data split, subsets and evaluation settings are the model's own (its checkpoint's
    parameters); the digit classifier of its profile is loaded when there is one.
    """
    path = resolve(spec)
    dev = pick_device(device)
    model, saved = load_weights(path, dev)
    recorded = dict(saved["meta"].get("params") or {})
    if not recorded:
        raise DataError(f"{path} records no parameters: it was not written by this project's "
                        f"trainer; {repair_advice(path)}")
    # the folders and the MNIST source are this checkout's, not those of the machine that
    # trained; a parameter a later version dropped does not stop an older model from loading,
    # and one it added (e.g. eval_seed) takes params/base.yaml's value
    known = parameter_types()
    recorded = {k: v for k, v in recorded.items() if k in known}
    if set(known) - set(recorded) - {"arch", "run", "profile"}:
        recorded = {**read_yaml(layout.project_path("params/base.yaml")), **recorded}
    recorded.update(data_dir="data", reports_dir="reports", checkpoints_dir="checkpoints",
                    mnist_source="", device=str(dev))
    params = check_params(recorded)
    data = _study_data(layout.project_path(params.data_dir), os.environ.get("MNIST_SOURCE"),
                       params.val_split, params.split_seed, params.train_subset,
                       params.eval_subset)
    clf, missing = _classifier_for(params.profile, dev)
    notes = [missing] if missing else []
    dtype = saved["meta"].get("weights_dtype")
    if dtype:
        notes.append(f"published {dtype} weights (no checkpoint here): numbers may differ from "
                     f"the report's in the last digits")
    name = str(spec) if not Path(spec).suffix == ".pt" else (
        f"{params.profile}/{params.run}/seed-{params.seed}/{params.arch}")
    return Explorer(name=name, model=model, params=params, data=data, classifier=clf,
                    device=dev, source=path, notes=notes)


# --------------------------------------------------------------------------------------------
# What notebooks/explore.ipynb needs besides the views
# --------------------------------------------------------------------------------------------
#: The exploration notebook's parameters and their types.
NOTEBOOK_SETTINGS: dict[str, type] = {"model": str, "compare": list, "interactive": bool,
                                      "device": str, "digit_image": str}
#: The model the notebook opens when none is named: the committed study's, if it is here.
PREFERRED_MODEL = "full/retrained/seed-0/deep-512"


def check_settings(namespace: dict[str, Any]) -> dict[str, Any]:
    """The exploration notebook's parameters from its namespace, type-checked; ``model = ""``
    becomes :func:`default_model`."""
    settings = {}
    for name, kind in NOTEBOOK_SETTINGS.items():
        value = namespace.get(name)
        if not isinstance(value, kind):
            raise ExploreError(f"{name}: expected {kind.__name__}, got {type(value).__name__} "
                               f"{value!r}")
        settings[name] = value
    bad = [s for s in settings["compare"] if not isinstance(s, str)]
    if bad:
        raise ExploreError(f"compare: a list of model names ({SPEC_FORMAT}), got {bad!r}")
    settings["model"] = settings["model"] or default_model()
    return settings


def default_model() -> str:
    """:data:`PREFERRED_MODEL` when it is here, else the first trained model (published weights
    of ``full`` first); none → an :class:`ExploreError` naming the command that trains some."""
    trained = available()
    if PREFERRED_MODEL in trained:
        return PREFERRED_MODEL
    if not trained:
        raise ExploreError("no trained model here: `make report PROFILE=quick` trains the quick "
                           "profile's (about 11 minutes on 2 cores), `make report` the full study")
    return sorted(trained, key=lambda s: (not s.startswith("full/"), s))[0]
