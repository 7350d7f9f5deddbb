"""What the Snakefile needs to know about the study, computed in Python (no `sed` over YAML).

* :func:`check_selection` refuses an unknown profile, run or architecture before any work, with
  the valid choices named;
* :func:`run_seeds` reads a run's ``seeds`` from its parameter files, as papermill merges them;
* :func:`code_of` lists the project code a notebook runs — the notebook's imports of
  ``vae_core`` and ``vae_report`` modules and, transitively, theirs — so that editing a module
  reruns exactly the steps that import it (Snakemake's mtime trigger on declared inputs).
"""
from __future__ import annotations

import ast
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import vae_core

from vae_report import layout
from vae_report.errors import ParameterError
from vae_report.params import RUNS, load_params, suggestion
from vae_report.param_files import layer_sources, study_parameters

PACKAGE = "vae_report"


def profiles() -> list[str]:
    """The profiles of ``params/profiles/*.yaml``."""
    return sorted(p.stem for p in (layout.PROJECT_ROOT / "params" / "profiles").glob("*.yaml"))


def words(value: str | Iterable[str]) -> list[str]:
    """``"a b  c"`` or ``["a", "b"]`` → a list of names (Make passes lists as one string)."""
    return value.split() if isinstance(value, str) else [str(v) for v in value]


def check_selection(profile: str, runs: Iterable[str], archs: Iterable[str]) -> None:
    """A ParameterError naming every unknown profile, run or architecture and the valid ones."""
    runs, archs = list(runs), list(archs)
    problems = []
    if profile not in profiles():
        problems.append(f"PROFILE={profile!r} is not one of {', '.join(profiles())} "
                        f"(params/profiles/*.yaml){_did_you_mean(profile, profiles())}")
    problems += _choice_problems("RUNS", runs, list(RUNS), "params/runs/*.yaml")
    problems += _choice_problems("ARCHS", archs, list(vae_core.ARCHS), "vae_core.ARCHS")
    if problems:
        raise ParameterError("; ".join(problems))


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    close = suggestion(name, list(choices))
    return f" — did you mean {close!r}?" if close else ""


def _choice_problems(variable: str, chosen: list[str], valid: list[str], where: str) -> list[str]:
    """What is wrong with a Make variable's list of names: empty, unknown names (with the
    closest valid one), names given twice."""
    if not chosen:
        return [f"{variable} is empty: name some of {', '.join(valid)} ({where}), or leave "
                f"{variable} out for all of them"]
    problems = [f"{variable}: {name!r} is not one of {', '.join(valid)} ({where})"
                f"{_did_you_mean(name, valid)}" for name in dict.fromkeys(chosen) if name not in valid]
    twice = [name for name in dict.fromkeys(chosen) if chosen.count(name) > 1]
    if twice:
        problems.append(f"{variable} names {', '.join(twice)} more than once: name each once")
    return problems


def check_parameters(profile: str, runs: Iterable[str]) -> None:
    """Every parameter layer a job of the selection merges — the profile's alone (the
    classifier) and each run's — checked before any work, each error naming its file and line
    (:func:`params.load_params`)."""
    load_params(profile)
    for run in runs:
        load_params(profile, run)


def set_aside_damaged(profile: str, runs: Iterable[str], archs: Iterable[str],
                      dry_run: bool = False) -> list[str]:
    """Find the selection's checkpoints and the digit classifier that are not whole
    ``torch.save`` archives (a truncated file) and — unless ``dry_run`` — move each to
    ``<name>.damaged`` and delete the executed notebooks that were built from it, so that the
    workflow rebuilds the file *and* everything after it (Snakemake does not remake a missing
    file while the outputs after it are current). One message per file, saying what happens.
    Nothing is deleted but executed notebooks, which the workflow writes again; the Makefile
    calls this before the workflow, never at the Snakefile's parse (a dry run moves nothing)."""
    from vae_report.files import torch_file_problem

    found: list[tuple[Path, list[Path]]] = []
    judged: list[Path] = []                     # the notebooks that asked the classifier
    for run in runs:
        for seed in run_seeds(run, profile):
            for arch in [a for a in run_archs(run, profile) if a in archs]:
                cell = layout.cell_dir(profile, run, seed, arch)
                found.append((layout.checkpoint_path(profile, run, seed, arch),
                              [cell / f"{step}.ipynb" for step in layout.CELL_STEPS]))
                judged += [cell / f"{step}.ipynb" for step in ("04-samples", "05-chain")]
    found.append((layout.classifier_path(profile), [layout.classifier_notebook(profile), *judged]))
    messages = []
    for path, after in found:
        problem = torch_file_problem(path) if path.exists() else None
        if not problem:
            continue
        rebuilt = [p for p in after if p.exists()]
        if dry_run:
            messages.append(f"{layout.relative(path)} is damaged ({problem}): `make report` will "
                            f"set it aside and rebuild it and the {len(rebuilt)} notebook(s) "
                            "built from it")
            continue
        aside = path.with_name(path.name + ".damaged")
        path.replace(aside)
        for notebook in rebuilt:
            notebook.unlink()
        messages.append(f"{layout.relative(path)} is damaged ({problem}): moved to {aside.name}; "
                        f"this run rebuilds it and the {len(rebuilt)} notebook(s) built from it")
    return messages


def run_seeds(run: str, profile: str) -> list[int]:
    """The ``seeds`` of ``run`` after merging its parameter files (default ``[0]``)."""
    return _seeds(*layer_sources(profile, run), run)


def _seeds(merged: dict[str, Any], where: dict[str, str], run: str) -> list[int]:
    """The checked ``seeds`` of a run's merged parameters; ``where`` (key → the file and line
    that set it, :func:`param_files.layer_sources`) names the file to fix."""
    seeds = merged.get("seeds", [0])
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise ParameterError(f"seeds of run {run!r}: must be a list of integers such as "
                             f"[0, 1, 2], got {seeds!r} — set in "
                             f"{where.get('seeds', f'params/runs/{run}.yaml')}: fix it there")
    return seeds


def run_archs(run: str, profile: str) -> list[str]:
    """The architectures of ``run``, in :data:`vae_core.ARCHS` order: its merged ``archs``, or
    all of them when that is empty (the seed-faithful variants train three)."""
    merged, where = layer_sources(profile, run)
    archs = merged.get("archs") or list(vae_core.ARCHS)
    unknown = [a for a in archs if a not in vae_core.ARCHS]
    if not isinstance(archs, list) or unknown:
        raise ParameterError(f"archs of run {run!r}: unknown {unknown or archs!r}; choose from "
                             f"{', '.join(vae_core.ARCHS)} — set in "
                             f"{where.get('archs', f'params/runs/{run}.yaml')}: fix it there")
    return [a for a in vae_core.ARCHS if a in archs]


def profile_device(profile: str) -> str:
    """The ``device`` a profile asks for (``auto``, ``cpu``, ``cuda``…)."""
    return str(study_parameters(profile).get("device", "auto")).split(":")[0]


def jobs_use_gpu(profile: str) -> bool:
    """Whether training and evaluation jobs ask for a ``gpu`` resource: under ``device: cuda``,
    and under ``auto`` when this machine has CUDA (a GPU box; on a cluster's login node, which
    has none, set ``device: cuda`` in a profile so that Slurm jobs ask for one)."""
    import torch

    device = profile_device(profile)
    return device == "cuda" or (device == "auto" and torch.cuda.is_available())


def training_minutes(profile: str, run: str) -> int:
    """A generous wall-time limit for one training job (all the run's seeds of one architecture)
    on a scheduler: the slowest model took 13 s an epoch on one CPU thread here (22 min for 100
    epochs), so 30 s an epoch per seed plus 10 minutes of start-up and evaluation."""
    merged, where = layer_sources(profile, run)
    epochs = merged.get("epochs", 100)                             # checked: check_parameters
    return 10 + (int(epochs) * len(_seeds(merged, where, run)) + 1) // 2


def training_priority(profile: str, run: str, arch: str) -> float:
    """Snakemake priority of a training job, in [10, 20): the costliest first, so that with two
    cores no long training is left running alone at the end. Cost ∝ weights per image, times
    (16 / batch)^0.35 — a batch-64 epoch of deep-512-256-128 ran 1.6× faster than a batch-16 one
    in `make bench` — times the epochs; evaluation jobs keep priority 0, the classifier 5."""
    merged = study_parameters(profile, run)
    latent = merged.get("latent_dim", 64)
    cost = (_encoder_weights(arch, latent) * (16 / merged.get("batch_size", 16)) ** 0.35
            * merged.get("epochs", 100))
    largest = max(_encoder_weights(a, latent) for a in vae_core.ARCHS) * 100
    return 10 + 10 * min(cost / (largest * 4), 0.999)


def _encoder_weights(arch: str, latent_dim: int) -> int:
    """Weights of an architecture's encoder (the decoder mirrors it): a proxy of its cost."""
    sizes = [vae_core.IMAGE_PIXELS, *vae_core.ARCHS[arch], 2 * latent_dim]
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


def _imported(source: str, package: str = "") -> set[str]:
    """Project modules (``vae_core``, ``vae_report.<m>``, ``vae_report.<folder>.<m>``) that
    Python ``source`` imports; ``package`` is the dotted package its relative imports start
    from (a module's, for the package's own files)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:                                   # from . import x / from .x import y
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name == "vae_core" or name.startswith(f"{PACKAGE}."):
                found.add(name)
    return found


def _module_file(name: str) -> Path | None:
    """The file of the project module ``name`` (``vae_report.metrics.chain`` →
    ``vae_report/metrics/chain.py``, a package → its ``__init__.py``); None for a name that is
    not a module (``from vae_report.metrics.chain import markov_chain`` also yields
    ``vae_report.metrics.chain.markov_chain``)."""
    if name == "vae_core":
        return layout.PROJECT_ROOT / "vae_core.py"
    path = layout.PROJECT_ROOT.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=None)
def _closure(module: str) -> frozenset[str]:
    """``module`` and every project module it imports, directly or not (import cycles through a
    package's ``__init__`` included)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if name in seen or path is None:
            continue
        seen.add(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        todo.extend(_imported(path.read_text(), package))
    return frozenset(seen)


def code_of(notebook: str | Path) -> list[str]:
    """The project's Python files a notebook (or a script, ``*.py``) runs, relative to the
    project root, sorted: ``vae_core.py`` and the ``vae_report`` modules it imports, with their
    own imports (a script's own file included)."""
    path = layout.PROJECT_ROOT / notebook
    if path.suffix == ".py":
        source, own = path.read_text(), {path}
    else:
        nb = json.loads(path.read_text())
        source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        own = set()
    modules: set[str] = set()
    for name in _imported(source):
        modules |= _closure(name)
    files = ({_module_file(m) for m in modules} - {None}) | own
    return sorted(str(f.relative_to(layout.PROJECT_ROOT)) for f in files)   # type: ignore[union-attr]
