"""Gathering the study's artifacts for the report: every cell's metrics, history and arrays, and
the one table (run × seed × architecture) the verdicts are computed from."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import vae_core

from . import layout
from .params import RUNS, study_parameters

#: Short names of the runs for table headers.
SHORT: dict[str, str] = {"original": "run A (original)", "retrained": "run B (retrained)"}

#: The files the report reads from every cell (beside the steps' JSON metrics) …
CELL_FILES: tuple[str, ...] = ("history.csv",)
#: … and from the cells of each run's first seed, whose pictures the figures show (the committed
#: study keeps these for the first seed only: .gitignore).
PICTURE_FILES: tuple[str, ...] = ("reconstructions.npy", "originals.npy", "samples.npy",
                                  "chain.gif", "chain-filmstrip.png")


def load_cell(profile: str, run: str, arch: str, reports_dir: str = "reports",
              seed: int = 0, pictures: bool = True) -> dict[str, Any]:
    """Everything one (run, seed, arch) cell wrote: its JSON metrics by step, history and — with
    ``pictures`` — its arrays, GIF and filmstrip (:data:`PICTURE_FILES`).

    A missing artifact raises an error naming the cell and the command that makes it.
    """
    import numpy as np
    import pandas as pd

    folder = layout.cell_dir(profile, run, seed, arch, reports_dir)
    needed = ([f"{s}.json" for s in layout.CELL_STEPS] + list(CELL_FILES)
              + list(PICTURE_FILES if pictures else ()))
    missing = [n for n in needed if not (folder / n).exists()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}; run `make report "
                                f"PROFILE={profile}` (or `make cells PROFILE={profile}`) first")
    cell: dict[str, Any] = {s: json.loads((folder / f"{s}.json").read_text())
                            for s in layout.CELL_STEPS}
    cell["history"] = pd.read_csv(folder / "history.csv")
    cell["folder"] = folder
    if pictures:
        for name in ("reconstructions", "originals", "samples"):
            cell[name] = np.load(folder / f"{name}.npy")
        cell["gif"] = folder / "chain.gif"
        cell["filmstrip"] = folder / "chain-filmstrip.png"
    return cell


@dataclass
class Study:
    """Every cell of one profile: ``cells[(run, seed, arch)]`` as :func:`load_cell` returns it,
    each run's merged parameters and seeds. Figures show each run's first seed; tables add the
    other seeds' spread."""

    profile: str
    runs: list[str]
    archs: list[str]
    seeds: dict[str, list[int]]
    params: dict[str, dict[str, Any]]
    cells: dict[tuple[str, int, str], dict[str, Any]]
    classifier: dict[str, Any]
    notes: list[str] = field(default_factory=list)   # where the cells and the files disagree

    def first(self, run: str, arch: str) -> dict[str, Any]:
        """The cell of ``run``'s first seed (the one the figures show)."""
        return self.cells[(run, self.seeds[run][0], arch)]

    def per_seed(self, step: str, key: str, run: str) -> Any:
        """``step``'s metric ``key`` as a DataFrame, architectures × seeds."""
        import pandas as pd

        return pd.DataFrame({s: {a: self.cells[(run, s, a)][step][key] for a in self.archs}
                             for s in self.seeds[run]})

    def first_seed(self, step: str, key: str, run: str) -> Any:
        """``step``'s metric ``key`` of ``run``'s first seed, one number per architecture."""
        return self.per_seed(step, key, run)[self.seeds[run][0]]

    @property
    def full(self) -> bool:
        """Whether every run used all the data (the full profile), not a smoke slice."""
        return all(self.params[r]["train_subset"] == 0 for r in self.runs)

    def metrics_table(self) -> Any:
        """One row per (run, seed, arch) with the numbers the verdicts judge (:func:`metrics_table`)."""
        return metrics_table(self.cells)


#: Parameters that differ from cell to cell of one run, not properties of the run.
_PER_CELL = ("arch", "seed", "reports_dir", "checkpoints_dir", "data_dir", "mnist_source")


def _run_parameters(profile: str, run: str, arch: str, reports_dir: str) -> tuple[dict[str, Any], str | None]:
    """The parameters ``run``'s cells were executed with — the parameter files as they are now,
    overlaid with what its first cell's ``01-train.json`` recorded — and a note when the two
    disagree on the seeds (cells rendered before the files changed: the report shows the cells)."""
    files = study_parameters(profile, run)
    seeds = list(files.get("seeds", [0]))
    first = layout.cell_dir(profile, run, seeds[0], arch, reports_dir) / "01-train.json"
    if not first.exists():
        return files, None
    recorded = json.loads(first.read_text()).get("provenance", {}).get("params", {})
    merged = {**files, **{k: v for k, v in recorded.items() if k not in _PER_CELL}}
    if list(merged.get("seeds", [0])) == seeds:
        return merged, None
    return merged, (f"run {run!r}: its cells were executed with seeds {merged['seeds']}, while "
                    f"params/runs/{run}.yaml now lists {seeds}; this report shows the cells as "
                    f"they were run (`make report PROFILE={profile}` brings them up to date)")


def load_study(profile: str, reports_dir: str = "reports", runs: list[str] | None = None,
               archs: list[str] | None = None) -> Study:
    """All cells of ``profile`` for ``runs`` (default: those of :data:`params.RUNS`), each run's
    seeds and ``archs`` (default ``vae_core.ARCHS``), plus the classifier's metrics.

    A run's parameters and seeds are those its cells were executed with (their provenance),
    which equal its parameter files' after ``make report``; when the files have changed since,
    ``Study.notes`` says so."""
    runs = [r for r in RUNS if r in runs] if runs else list(RUNS)
    archs = [a for a in vae_core.ARCHS if a in archs] if archs else list(vae_core.ARCHS)
    params, notes = {}, []
    for r in runs:
        params[r], note = _run_parameters(profile, r, archs[0], reports_dir)
        notes += [note] if note else []
    seeds = {r: list(params[r].get("seeds", [0])) for r in runs}
    cells = {(r, s, a): load_cell(profile, r, a, reports_dir, seed=s, pictures=s == seeds[r][0])
             for r in runs for s in seeds[r] for a in archs}
    clf = layout.classifier_dir(profile, reports_dir) / "classifier.json"
    if not clf.exists():
        raise FileNotFoundError(f"{clf} does not exist; run `make report PROFILE={profile}` first")
    return Study(profile=profile, runs=runs, archs=archs, seeds=seeds, params=params, cells=cells,
                 classifier=json.loads(clf.read_text()), notes=notes)


def _final_gap(history: Any) -> float:
    """|validation − training ELBO| / |validation ELBO| at the last epoch."""
    val, train = history.val_elbo.iloc[-1], history.train_elbo.iloc[-1]
    return float(abs(val - train) / abs(val))


def metrics_table(cells: dict[tuple[str, int, str], dict[str, Any]]) -> Any:
    """The study as one DataFrame indexed by (run, seed, arch), one column per judged number:

    ``test_elbo``, ``test_iwae`` (nats), ``collapsed`` (dimensions with KL < 0.01),
    ``collapsed_kl_<t>`` (dimensions with KL < t for each of ``verdicts.KL_THRESHOLDS``),
    ``min_dim_kl`` (the smallest dimension's KL, nats),
    ``active_units``, ``final_gap`` (relative validation−training gap at the last epoch),
    ``chain_finite``, ``final_saturated`` (fraction of the chain's last pixels ≥ 1),
    ``frechet_distance``, ``chain_confidence`` (mean classifier confidence over all frames),
    ``class_switches`` (class changes per chain).
    """
    import numpy as np
    import pandas as pd

    from .verdicts import KL_THRESHOLDS

    rows = {}
    for (run, seed, arch), c in cells.items():
        kl = np.asarray(c["03-collapse"]["kl_per_dim"])
        rows[(run, seed, arch)] = {
            "test_elbo": c["02-elbo"]["test_elbo"], "test_iwae": c["02-elbo"]["test_iwae"],
            "collapsed": c["03-collapse"]["collapsed_dims_kl_below_0.01"],
            **{f"collapsed_kl_{t:g}": int((kl < t).sum()) for t in KL_THRESHOLDS},
            "min_dim_kl": float(kl.min()),
            "active_units": c["03-collapse"]["active_units"],
            "final_gap": _final_gap(c["history"]),
            "chain_finite": bool(c["05-chain"]["finite"]),
            "final_saturated": c["05-chain"]["final_fraction_saturated"],
            "frechet_distance": c["04-samples"]["frechet_distance"],
            "chain_confidence": float(np.mean(c["05-chain"]["frame_confidence"])),
            "class_switches": c["05-chain"]["class_switches_per_chain"]}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["run", "seed", "arch"])
    return table


def heading_anchor(title: str) -> str:
    """The ``id`` nbconvert's HTML gives a markdown heading with this text (spaces → dashes,
    URL-quoted; nbconvert.filters.strings._convert_header_id). A test checks every link."""
    from urllib.parse import quote

    return quote(title.replace(" ", "-"), safe="?/:@!$&'()*+,;=")


def sections(notebook: str | Path | None = None) -> list[tuple[str, str]]:
    """The report's sections — the ``##`` headings of ``notebooks/report.ipynb``'s markdown
    cells, in order — as (title, HTML anchor): its table of contents, complete by construction."""
    path = Path(notebook) if notebook else layout.PROJECT_ROOT / "notebooks" / "report.ipynb"
    cells = json.loads(path.read_text())["cells"]
    titles = [line[3:].strip() for c in cells if c["cell_type"] == "markdown"
              for line in "".join(c["source"]).splitlines() if line.startswith("## ")]
    return [(t, heading_anchor(t)) for t in titles]
