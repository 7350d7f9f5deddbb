"""The study's parameters: one schema for every notebook, checked before any work starts.

papermill merges the flat YAML files of ``params/`` shallowly (``-f base -f runs/<run> -f
profiles/<profile>``, the last file winning) and only *warns* about keys a notebook does not
declare; :func:`check_params`, called in every notebook's first cell after the parameters, is
the check that counts: unknown keys, wrong types and bad values stop the notebook there, with the
key and the fix named.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import vae_core

from vae_report import layout
from vae_report.devices import check_device_name
from vae_report.errors import ParameterError

@dataclass(frozen=True)
class Run:
    """What the report calls a training run (its settings are in ``params/runs/<name>.yaml``)."""

    title: str                  # a heading: "run A (original: batch 16, default init)"
    short: str                  # a table label: "run A"
    variant_of: str | None = None   # the main run whose settings it repeats, seed-faithful


#: The training runs, in report order, one ``params/runs/<name>.yaml`` each: the seed's two runs
#: and the seed-faithful variant of each (the model as the seed built it: a log-variance head and
#: σ = exp(log σ), no floors), which tests the seed's broken chain. The one home of their names.
RUNS: dict[str, Run] = {
    "original": Run("run A (original: batch 16, default init)", "run A"),
    "retrained": Run("run B (retrained: batch 64, Kaiming init)", "run B"),
    "original-exp": Run("run A′ (run A, the model as the seed built it)", "run A′", "original"),
    "retrained-exp": Run("run B′ (run B, the model as the seed built it)", "run B′", "retrained"),
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
    """Every parameter a notebook of the study accepts. Defaults: a fast CPU smoke run.

    The YAML files under ``params/`` and papermill's ``-p`` set these; all notebooks receive the
    same merged set, so one schema serves them all.
    """

    arch: str = "vanilla"            # one of vae_core.ARCHS
    run: str = "smoke"               # name of the run (original, retrained, …): output folder
    profile: str = "smoke"           # name of the profile (full, quick, …): output folder
    latent_dim: int = 64
    lr: float = 3e-4
    epochs: int = 1
    batch_size: int = 64
    val_split: float = 0.2
    init: str = "default"            # "default" (PyTorch) or "kaiming"
    decoder_sigma: str = "softplus"  # decoder σ: "softplus" (floored) or the seed's "exp"
    encoder_std: str = "softplus"    # encoder std: "softplus" (floored) or the seed's "exp" (log-variance head)
    backend: str = "auto"            # training step: "auto", "fast" or "autograd"
    seed: int = 0                    # training seed (weights, batches, noise) of this cell
    seeds: list[int] = field(default_factory=lambda: [0])  # the run's seeds: a cell per seed
    stack_seeds: bool | str = "auto"  # a run's seeds of one arch as one stacked model: auto/true/false
    split_seed: int = 0              # train/validation split
    train_subset: int = 2000         # use the first N training images; 0 = all 48k
    eval_subset: int = 1000          # use the first N validation/test images; 0 = all
    eval_batch_size: int = 500
    iw_samples: int = 50             # K of the importance-weighted bound
    n_samples: int = 64              # decoder samples from N(0, I)
    n_recon: int = 16                # test images in the reconstruction tableau
    chain_steps: int = 100           # length of the limiting-distribution chain
    chain_images: int = 16           # chains run side by side
    device: str = "cpu"              # "cpu", "cuda[:n]" or "auto"
    threads: int = 0                 # torch threads per process; 0 = torch's default
    iw_curve_ks: list[int] = field(default_factory=lambda: [1, 10, 100])  # the IWAE-vs-K curve
    iw_curve_images: int = 100       # test images the IWAE-vs-K curve is computed on
    classifier_epochs: int = 1       # epochs of the digit classifier (00-classifier)
    fid_samples: int = 1000          # decoder samples judged by the classifier (04-samples)
    runs: list[str] = field(default_factory=list)    # the runs a report gathers; [] = all
    archs: list[str] = field(default_factory=list)   # a run's (or a report's) architectures; [] = all
    mnist_source: str = ""           # folder of idx files; "" = $MNIST_SOURCE or download
    data_dir: str = "data"
    reports_dir: str = "reports"
    checkpoints_dir: str = "checkpoints"

    def validate(self) -> "StudyParams":
        """Check values (types are checked by :func:`check_params`); returns ``self``."""
        if self.arch not in vae_core.ARCHS:
            raise ParameterError(f"arch: unknown architecture {self.arch!r}; "
                                 f"choose one of {', '.join(vae_core.ARCHS)}")
        for name in ("run", "profile"):
            if not _NAME.match(getattr(self, name)):
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
        for name in ("latent_dim", "epochs", "batch_size", "eval_batch_size", "iw_samples",
                     "n_samples", "n_recon", "chain_steps", "chain_images", "iw_curve_images",
                     "classifier_epochs", "fid_samples"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name}: must be ≥ 1, got {getattr(self, name)}")
        for name, meaning in (("train_subset", "the first N training images, 0 = all"),
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
        return layout.cell_dir(self.profile, self.run, self.seed, self.arch, self.reports_dir)

    @property
    def checkpoint_path(self) -> Path:
        """``checkpoints/<profile>/<run>/seed-<seed>/<arch>.pt``."""
        return layout.checkpoint_path(self.profile, self.run, self.seed, self.arch,
                                      self.checkpoints_dir)

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


def check_params(namespace: Mapping[str, Any]) -> StudyParams:
    """Build :class:`StudyParams` from a notebook's globals, refusing unknown keys and wrong types.

    Call it in the cell right after the ``parameters`` cell (``check_params(globals())``):
    at that point the namespace holds only the declared defaults and papermill's injections.
    """
    hints = parameter_types()
    values: dict[str, Any] = {}
    unknown = []
    for name, value in namespace.items():
        if name.startswith("_") or name in _IPYTHON_NAMES or not isinstance(value, _PARAMETER_TYPES):
            continue
        if name not in hints:
            unknown.append(name)
            continue
        values[name] = _check_type(name, value, hints[name])
    if unknown:
        named = []
        for name in unknown:
            close = suggestion(name, hints)
            named.append(f"{name!r}" + (f" (did you mean {close!r}?)" if close else ""))
        raise ParameterError(f"unknown parameter(s) {', '.join(named)}; known parameters: "
                             f"{', '.join(hints)}. Fix the YAML file or the -p option.")
    return StudyParams(**values).validate()


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML file as a dict (an empty file is ``{}``); a ParameterError naming the file and the
    line when it is not YAML or not a mapping of keys to values."""
    return _parse_yaml(Path(path).read_text(), path)


def _unique_key_loader() -> Any:
    """PyYAML's SafeLoader, refusing a key set twice in one mapping (PyYAML keeps the last
    silently: `epochs: 2` then `epochs: 3` would train 3 epochs without a word)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"{key!r} is set twice (first on line {seen[key] + 1}): "
                        f"keep one", key_node.start_mark)
                seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader


def _parse_yaml(text: str, path: str | Path) -> dict[str, Any]:
    """The flat YAML ``text`` of the file ``path`` as a dict (see :func:`read_yaml`)."""
    import yaml

    try:
        loaded = yaml.load(text, Loader=_unique_key_loader()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ParameterError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)}); "
                             f"write one `key: value` per line") from None
    if not isinstance(loaded, dict):
        raise ParameterError(f"{path}: expected `key: value` lines, got a {type(loaded).__name__}")
    return loaded


def _line_of(text: str, key: str) -> int | None:
    """The 1-based line where the flat YAML ``text`` sets ``key``."""
    match = re.search(rf"^{re.escape(key)}\s*:", text, re.M)
    return text.count("\n", 0, match.start()) + 1 if match else None


def layer_sources(profile: str, run: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The merged layers (as :func:`study_parameters`) and, for every key, where its value was
    set: ``"params/profiles/quick.yaml, line 3"`` (the last layer that sets it wins)."""
    merged: dict[str, Any] = {}
    where: dict[str, str] = {}
    for name in parameter_files(profile, run):
        path = layout.project_path(name)
        text = path.read_text()
        for key, value in _parse_yaml(text, path).items():
            merged[key] = value
            line = _line_of(text, str(key))
            where[key] = f"{name}, line {line}" if line else name
    return merged, where


def check_layers(profile: str, run: str | None = None) -> StudyParams:
    """Check the parameter files of ``run`` under ``profile`` as the notebooks will receive them
    — unknown keys, wrong types, bad values — before any work; each error names the file and
    the line that set the value, and the fix. The Snakefile calls it at parse time."""
    merged, where = layer_sources(profile, run)
    hints = parameter_types()
    unknown = [k for k in merged if k not in hints]
    if unknown:
        named = [f"{k!r} ({where[k]}" + (f"; did you mean {suggestion(k, hints)!r}?)"
                                         if suggestion(k, hints) else ")") for k in unknown]
        raise ParameterError(f"unknown parameter(s) {', '.join(named)}: rename or delete it; "
                             f"known parameters: {', '.join(hints)}")
    try:
        return check_params(merged)
    except ParameterError as exc:
        key = str(exc).split(":", 1)[0]
        if key in where:
            raise ParameterError(f"{exc} — set in {where[key]}: fix it there") from None
        raise


def parameter_files(profile: str, run: str | None = None) -> list[str]:
    """The YAML layers papermill merges for a cell of ``run`` (or a profile-wide notebook, such
    as the classifier's), relative to the project root, in merge order."""
    files = ["params/base.yaml"] + ([f"params/runs/{run}.yaml"] if run else [])
    return files + [f"params/profiles/{profile}.yaml"]


def study_parameters(profile: str, run: str | None = None) -> dict[str, Any]:
    """The parameter files of :func:`parameter_files` merged as papermill merges them
    (shallowly, the last file winning)."""
    return layer_sources(profile, run)[0]
