"""The parameter files: flat YAML read strictly — a key set twice is refused, an error names the
file and the line — and merged in layers, ``params/base.yaml``, ``params/runs/<run>.yaml``,
``params/profiles/<profile>.yaml``, the last file winning, with where each value was set.
:mod:`vae_report.params` checks what they hold against the one schema.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from vae_report import layout
from vae_report.errors import ParameterError


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
        if not path.is_file():
            folder = path.parent
            known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
            what = "profile" if folder.name == "profiles" else "run"
            raise ParameterError(f"{what} {path.stem!r}: there is no {name}; choose one of "
                                 f"{', '.join(known) or '(none)'}, or add the file")
        text = path.read_text()
        for key, value in _parse_yaml(text, path).items():
            merged[key] = value
            line = _line_of(text, str(key))
            where[key] = f"{name}, line {line}" if line else name
    return merged, where


def parameter_files(profile: str, run: str | None = None) -> list[str]:
    """The YAML layers papermill merges for a cell of ``run`` (or a profile-wide notebook, such
    as the classifier's), relative to the project root, in merge order."""
    files = ["params/base.yaml"] + ([f"params/runs/{run}.yaml"] if run else [])
    return files + [f"params/profiles/{profile}.yaml"]


@functools.lru_cache(maxsize=None)
def run_values(run: str) -> dict[str, Any]:
    """``params/base.yaml`` and ``params/runs/<run>.yaml`` merged: the run's settings under
    any profile (the run titles')."""
    merged: dict[str, Any] = {}
    for name in ("params/base.yaml", f"params/runs/{run}.yaml"):
        merged.update(read_yaml(layout.project_path(name)))
    return merged


def study_parameters(profile: str, run: str | None = None) -> dict[str, Any]:
    """The parameter files of :func:`parameter_files` merged as papermill merges them
    (shallowly, the last file winning)."""
    return layer_sources(profile, run)[0]
