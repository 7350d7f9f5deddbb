"""The study's parameters: one schema for every notebook, checked before any work starts.

Every value lives in the flat YAML files of ``params/``: ``base.yaml`` (all runs), ``runs/<run>.yaml``
and ``profiles/<profile>.yaml``, merged shallowly in that order (the last file winning) by
:func:`load_params`, once. :class:`StudyParams` is the one schema: names, types, allowed values.
A notebook's parameters cell names only its cell (``profile``, ``run``, ``seed``, ``arch``,
``device``); :func:`notebook_params`, in the cell after it, reads the rest from the files, so
unknown keys, wrong types and bad values stop the notebook there, with the key and the fix named.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import vae_core

from vae_report import layout
from vae_report.devices import check_device_name
from vae_report.errors import ParameterError
from vae_report.param_files import layer_sources, run_values

@dataclass(frozen=True)
class Run:
    """A training run as the report names it; its settings are ``params/runs/<name>.yaml``'s."""

    name: str                       # params/runs/<name>.yaml
    short: str                      # a table label: "run A"
    variant_of: str | None = None   # the main run whose settings it repeats, seed-faithful

    @property
    def title(self) -> str:
        """A heading built from the run's parameter files: "run A (original: batch 16, default
        init)"; a variant: "run A′ (run A, the model as the seed built it)"."""
        if self.variant_of is not None:
            return f"{self.short} ({RUNS[self.variant_of].short}, the model as the seed built it)"
        values = run_values(self.name)
        init = {"kaiming": "Kaiming"}.get(values["init"], values["init"])
        return f"{self.short} ({self.name}: batch {values['batch_size']}, {init} init)"


#: The training runs, in report order, one ``params/runs/<name>.yaml`` each: the seed's two runs
#: and the seed-faithful variant of each (the model as the seed built it: a log-variance head and
#: σ = exp(log σ), no floors), which tests the seed's broken chain. The one home of their names
#: and roles; their settings are the YAML files'.
RUNS: dict[str, Run] = {
    "original": Run("original", "run A"),
    "retrained": Run("retrained", "run B"),
    "original-exp": Run("original-exp", "run A′", "original"),
    "retrained-exp": Run("retrained-exp", "run B′", "retrained"),
}
#: The seed's two runs (the report's tables); the others are their variants.
MAIN_RUNS: tuple[str, ...] = tuple(r for r, run in RUNS.items() if run.variant_of is None)

#: Training backends: the reference (autograd on vae_core.elbo_terms), the hand-written step,
#: or the fast one where the model's structure allows it.
BACKENDS: tuple[str, ...] = ("auto", "fast", "autograd")

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")

#: Common names of other codebases → ours, for "did you mean" (difflib misses most of them).
ALIASES: dict[str, str] = {
    "learning_rate": "lr", "learningrate": "lr", "n_epochs": "epochs", "num_epochs": "epochs",
    "max_epochs": "epochs", "batchsize": "batch_size", "bs": "batch_size",
    "latent": "latent_dim", "latent_size": "latent_dim", "z_dim": "latent_dim",
    "zdim": "latent_dim", "validation_split": "val_split", "valid_split": "val_split",
    "architecture": "arch", "model": "arch", "random_seed": "seed", "weight_init": "init",
    "initialization": "init", "k": "iw_samples", "importance_samples": "iw_samples"}


@dataclass
class StudyParams:
    """The schema of the study's parameters: every name, its type (checked by
    :func:`check_params`) and its allowed values (:meth:`validate`). No defaults: every value lives
    in ``params/*.yaml`` (:func:`load_params` merges them), and a notebook or a script names only
    the cell it is (``profile``, ``run``, ``seed``, ``arch``, ``device``) and what it changes.
    """

    # which cell: the profile and run name their YAML files and, with seed and arch, the folders
    profile: str                     # params/profiles/<profile>.yaml; reports/<profile>/…
    run: str | None                  # params/runs/<run>.yaml; None: a profile-wide notebook
    arch: str | None                 # one of vae_core.ARCHS; None: not one model's notebook
    seed: int                        # training seed (weights, batches, noise) of this cell
    device: str                      # "cpu", "cuda[:n]" or "auto"
    # the model and its training
    latent_dim: int
    lr: float
    epochs: int
    batch_size: int
    val_split: float
    init: str                        # "default" (PyTorch) or "kaiming"
    decoder_sigma: str               # decoder σ: "softplus" (floored) or the seed's "exp"
    encoder_std: str                 # encoder std: "softplus" (floored) or the seed's "exp"
    backend: str                     # training step: "auto", "fast" or "autograd"
    seeds: list[int]                 # the run's seeds: a cell per seed
    stack_seeds: bool | str          # a run's seeds of one arch as one stacked model
    split_seed: int                  # train/validation split
    eval_seed: int                   # the validation ELBO's noise, the same every epoch
    check_every: int                 # steps between looks for NaN/∞ in the loss
    threads: int                     # torch threads per process; 0 = torch's default
    # the data each step sees
    train_subset: int                # the first N training images; 0 = all 48k
    eval_subset: int                 # the first N validation/test images; 0 = all
    eval_batch_size: int
    # the steps' measurements
    iw_samples: int                  # K of the importance-weighted bound
    iw_curve_ks: list[int]           # the IWAE-vs-K curve
    iw_curve_images: int             # test images the IWAE-vs-K curve is computed on
    n_samples: int                   # decoder samples from N(0, I)
    n_recon: int                     # test images in the reconstruction tableau
    chain_steps: int                 # length of the limiting-distribution chain
    chain_images: int                # chains run side by side
    classifier_epochs: int           # epochs of the digit classifier (00-classifier)
    fid_samples: int                 # decoder samples judged by the classifier (04-samples)
    # what a report gathers, and where files are
    runs: list[str]                  # the runs a report gathers; [] = all
    archs: list[str]                 # a run's (or a report's) architectures; [] = all
    mnist_source: str                # folder of idx files; "" = $MNIST_SOURCE or download
    data_dir: str
    reports_dir: str
    checkpoints_dir: str

    def validate(self) -> "StudyParams":
        """Check values (types are checked by :func:`check_params`); returns ``self``."""
        if self.arch is not None and self.arch not in vae_core.ARCHS:
            raise ParameterError(f"arch: unknown architecture {self.arch!r}; "
                                 f"choose one of {', '.join(vae_core.ARCHS)}")
        for name in ("run", "profile"):
            if getattr(self, name) is not None and not _NAME.match(getattr(self, name)):
                raise ParameterError(f"{name}: {getattr(self, name)!r} names a folder: use letters, "
                                     f"digits, '-', '_' or '.' only")
        if self.init not in vae_core.INITS:
            raise ParameterError(f"init: must be 'default' or 'kaiming', got {self.init!r}")
        if self.decoder_sigma not in vae_core.DECODER_SIGMAS:
            raise ParameterError(f"decoder_sigma: must be one of {', '.join(vae_core.DECODER_SIGMAS)}, "
                                 f"got {self.decoder_sigma!r}")
        if self.encoder_std not in vae_core.ENCODER_STDS:
            raise ParameterError(f"encoder_std: must be one of {', '.join(vae_core.ENCODER_STDS)}, "
                                 f"got {self.encoder_std!r}")
        if self.stack_seeds not in (True, False, "auto"):
            raise ParameterError(f"stack_seeds: must be auto, true or false, got {self.stack_seeds!r}")
        if self.backend not in BACKENDS:
            raise ParameterError(f"backend: must be one of {', '.join(BACKENDS)}, "
                                 f"got {self.backend!r}")
        check_device_name(self.device)
        if not 0.0 < self.val_split < 1.0:        # also refuses NaN
            raise ParameterError(f"val_split: must be in (0, 1), got {self.val_split}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ParameterError(f"lr: must be a finite number > 0, got {self.lr}")
        for name in ("latent_dim", "epochs", "batch_size", "eval_batch_size", "iw_samples", "check_every",
                     "n_samples", "n_recon", "chain_steps", "chain_images", "iw_curve_images",
                     "classifier_epochs", "fid_samples"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name}: must be ≥ 1, got {getattr(self, name)}")
        for name, meaning in (("eval_seed", "a seed"), ("split_seed", "a seed"),
                              ("train_subset", "the first N training images, 0 = all"),
                              ("eval_subset", "the first N validation/test images, 0 = all"),
                              ("threads", "torch threads, 0 = torch's default")):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name}: must be ≥ 0 ({meaning}), got {getattr(self, name)}")
        if (not self.seeds or len(set(self.seeds)) != len(self.seeds)
                or not all(_is_int(s) for s in self.seeds)):
            raise ParameterError(f"seeds: must be a non-empty list of distinct integers, e.g. "
                                 f"[0, 1, 2], got {self.seeds!r}")
        for name, known in (("runs", RUNS), ("archs", vae_core.ARCHS)):
            unknown = [v for v in getattr(self, name) if v not in known]
            if unknown:
                raise ParameterError(f"{name}: unknown {', '.join(map(repr, unknown))}; choose "
                                     f"from {', '.join(known)} (or [] for all)")
        if not self.iw_curve_ks or not all(_is_int(k) and k >= 1 for k in self.iw_curve_ks):
            raise ParameterError(f"iw_curve_ks: must be a non-empty list of integers ≥ 1, e.g. "
                                 f"[1, 10, 100], got {self.iw_curve_ks!r}")
        return self

    @property
    def profile_dir(self) -> Path:
        """``reports/<profile>``: the report and its figures."""
        return layout.profile_dir(self.profile, self.reports_dir)

    @property
    def out_dir(self) -> Path:
        """Where this cell's artifacts go: ``reports/<profile>/<run>/seed-<seed>/<arch>``."""
        return layout.cell_dir(self.profile, *self._cell(), self.reports_dir)

    @property
    def checkpoint_path(self) -> Path:
        """``checkpoints/<profile>/<run>/seed-<seed>/<arch>.pt``."""
        return layout.checkpoint_path(self.profile, *self._cell(), self.checkpoints_dir)

    def _cell(self) -> tuple[str, int, str]:
        """(run, seed, arch) of a cell's notebook; a ParameterError for a profile-wide one."""
        if self.run is None or self.arch is None:
            raise ParameterError(f"run and arch name a cell, got run={self.run!r}, "
                                 f"arch={self.arch!r}: pass both (-p run original -p arch vanilla)")
        return self.run, self.seed, self.arch

    @property
    def classifier_dir(self) -> Path:
        """``reports/<profile>/classifier``: the digit classifier's notebook and metrics."""
        return layout.classifier_dir(self.profile, self.reports_dir)

    @property
    def classifier_path(self) -> Path:
        """``checkpoints/<profile>/classifier.pt``: its cached weights."""
        return layout.classifier_path(self.profile, self.checkpoints_dir)

    @property
    def figures_dir(self) -> Path:
        """``reports/<profile>/figures``."""
        return layout.figures_dir(self.profile, self.reports_dir)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Names IPython puts into a notebook's namespace; everything else in it before the check cell
# came from the parameters cell or papermill's injected cell.
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
# What papermill can inject (YAML/JSON values). Other objects in the namespace (tensors, models,
# data frames made by later cells when the check is rerun in JupyterLab) are not parameters.
_PARAMETER_TYPES = (str, int, float, bool, list, dict, type(None))


def _yaml_float_fix(text: str) -> str:
    """How to write the number ``text`` so that YAML 1.1 reads it as a float: it needs a dot in
    the mantissa and a sign in the exponent (``3e-4`` → ``3.0e-4``, ``1.0e3`` → ``1.0e+3``)."""
    mantissa, _, exponent = text.strip().lower().partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if exponent and exponent[0] not in "+-":
        exponent = "+" + exponent
    return mantissa + (f"e{exponent}" if exponent else "")


def _type_name(expected: Any) -> str:
    return getattr(expected, "__name__", None) or str(expected).replace("typing.", "")


def _check_type(name: str, value: Any, expected: Any) -> Any:
    """``value`` if it has the field's type (an int is taken for a float), else a ParameterError.

    Handles plain types, ``list[...]`` (the elements are checked by ``validate``) and optional
    types such as ``str | None``.
    """
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(expected):
            try:
                return _check_type(name, value, option)
            except ParameterError:
                continue
        raise ParameterError(f"{name}: expected {_type_name(expected)}, got "
                             f"{type(value).__name__} {value!r}")
    if expected is type(None):
        if value is None:
            return None
        raise ParameterError(f"{name}: expected None, got {value!r}")
    if origin is not None:                    # list[int] → list
        expected = origin
    if expected is float and _is_int(value):
        return float(value)
    if isinstance(value, bool) and expected is not bool:
        raise ParameterError(f"{name}: expected {expected.__name__}, got a boolean {value!r}")
    if not isinstance(value, expected):
        hint = ""
        if expected is float and isinstance(value, str):
            try:
                float(value)
                hint = (f" (YAML 1.1 reads a float only with a dot and a signed exponent: write "
                        f"{_yaml_float_fix(value)}, or pass it with papermill -p)")
            except ValueError:
                pass
        raise ParameterError(f"{name}: expected {expected.__name__}, got "
                             f"{type(value).__name__} {value!r}{hint}")
    return value


def parameter_types() -> dict[str, Any]:
    """Field name → resolved type of :class:`StudyParams` (``list[int]``, ``str``, …)."""
    return typing.get_type_hints(StudyParams)


def suggestion(name: str, known: Iterable[str]) -> str | None:
    """The known parameter ``name`` probably means: an alias (``learning_rate`` → ``lr``) or the
    closest spelling; None when nothing is close."""
    known = list(known)
    alias = ALIASES.get(name.lower())
    if alias in known:
        return alias
    close = difflib.get_close_matches(name, known, n=1)
    return close[0] if close else None


def _given(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters in a notebook's namespace (its parameters cell and papermill's injected
    cell), unknown names refused with the closest known one."""
    hints = parameter_types()
    values: dict[str, Any] = {}
    unknown = []
    for name, value in namespace.items():
        if name.startswith("_") or name in _IPYTHON_NAMES or not isinstance(value, _PARAMETER_TYPES):
            continue
        if name not in hints:
            unknown.append(name)
            continue
        values[name] = value
    if unknown:
        named = []
        for name in unknown:
            close = suggestion(name, hints)
            named.append(f"{name!r}" + (f" (did you mean {close!r}?)" if close else ""))
        raise ParameterError(f"unknown parameter(s) {', '.join(named)}; known parameters: "
                             f"{', '.join(hints)}. Fix the YAML file or the -p option.")
    return values


def check_params(values: Mapping[str, Any]) -> StudyParams:
    """:class:`StudyParams` from a mapping that sets every parameter: unknown or missing names,
    wrong types and bad values are refused, each named with its fix."""
    values = _given(values)
    hints = parameter_types()
    missing = [k for k in hints if k not in values]
    if missing:
        raise ParameterError(f"missing parameter(s) {', '.join(missing)}: every parameter has its "
                             f"value in params/*.yaml (params/base.yaml for all runs); add it there")
    return StudyParams(**{k: _check_type(k, v, hints[k]) for k, v in values.items()}).validate()


def notebook_params(namespace: Mapping[str, Any]) -> StudyParams:
    """A notebook's parameters: the YAML layers of the profile and run its namespace names
    (:func:`load_params`), with every other value it was given on top — papermill's ``-p``, or
    an edit of its parameters cell. ``None`` means "the configuration's value".

    Call it in the cell right after the parameters cell (``notebook_params(globals())``): at that
    point the namespace holds only the parameters cell's names and papermill's injections.
    """
    given = {k: v for k, v in _given(namespace).items() if v is not None}
    if "profile" not in given:
        raise ParameterError("profile: a notebook names its profile (params/profiles/<profile>.yaml): "
                             "-p profile quick")
    return load_params(given.pop("profile"), given.pop("run", None), **given)


def load_params(profile: str, run: str | None = None, **given: Any) -> StudyParams:
    """The checked parameters of ``run`` (a cell's, or a profile-wide notebook's for None) under
    ``profile``: ``params/base.yaml``, ``params/runs/<run>.yaml`` and
    ``params/profiles/<profile>.yaml`` merged (the last file winning), then ``given`` (the cell's
    ``arch``, ``seed``, ``device`` and any change). An error names the file and line that set
    the bad value, and the fix."""
    merged, where = layer_sources(profile, run)
    for key in given:
        where[key] = f"the value given for {key}"
    merged.update(given, profile=profile, run=run)
    merged.setdefault("arch", None)
    try:
        return check_params(merged)
    except ParameterError as exc:
        bad = [k for k in merged if k not in parameter_types()]
        if bad:
            named = [f"{k!r} ({where.get(k, 'given')}"
                     + (f"; did you mean {suggestion(k, parameter_types())!r}?)"
                        if suggestion(k, parameter_types()) else ")") for k in bad]
            raise ParameterError(f"unknown parameter(s) {', '.join(named)}: rename or delete it; "
                                 f"known parameters: {', '.join(parameter_types())}") from None
        key = str(exc).split(":", 1)[0]
        if key in where:
            raise ParameterError(f"{exc} — set in {where[key]}: fix it there") from None
        raise
