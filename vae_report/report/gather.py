"""Gathering the study's artifacts for the report: every cell's metrics, history and arrays, and
the one table (run × seed × architecture) the verdicts are computed from."""
from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import vae_core

from vae_report import files, layout
from vae_report.errors import DataError
from vae_report.params import MAIN_RUNS, RUNS
from vae_report.param_files import study_parameters

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
    cell: dict[str, Any] = {s: _read(folder / f"{s}.json", json.loads, profile)
                            for s in layout.CELL_STEPS}
    cell["history"] = _read(folder / "history.csv", lambda text: pd.read_csv(io.StringIO(text)),
                            profile)
    _check_history(cell, folder / "history.csv", profile)
    cell["folder"] = folder
    if pictures:
        for name in ("reconstructions", "originals", "samples"):
            cell[name] = _read(folder / f"{name}.npy", np.load, profile, binary=True)
        cell["gif"] = folder / "chain.gif"
        cell["filmstrip"] = folder / "chain-filmstrip.png"
    return cell


@dataclass
class Study:
    """Every cell of one profile: ``cells[(run, seed, arch)]`` as :func:`load_cell` returns it,
    each run's merged parameters and seeds. Figures show each run's first seed; tables add the
    other seeds' spread."""

    profile: str
    runs: list[str]                   # the seed's runs (params.MAIN_RUNS) in this study
    archs: list[str]
    seeds: dict[str, list[int]]
    params: dict[str, dict[str, Any]]
    cells: dict[tuple[str, int, str], dict[str, Any]]
    classifier: dict[str, Any]
    notes: list[str] = field(default_factory=list)   # where the cells and the files disagree
    variants: list[str] = field(default_factory=list)   # the seed-faithful variant runs present
    run_archs: dict[str, list[str]] = field(default_factory=dict)   # each run's architectures

    def archs_of(self, run: str) -> list[str]:
        """The architectures ``run`` trained (the variants three), in the study's order."""
        return self.run_archs.get(run, self.archs)

    def first(self, run: str, arch: str) -> dict[str, Any]:
        """The cell of ``run``'s first seed (the one the figures show)."""
        return self.cells[(run, self.seeds[run][0], arch)]

    def per_seed(self, step: str, key: str, run: str) -> Any:
        """``step``'s metric ``key`` as a DataFrame, architectures × seeds."""
        import pandas as pd

        return pd.DataFrame({s: {a: self.cells[(run, s, a)][step][key] for a in self.archs_of(run)}
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


def _repair(path: Path, profile: str) -> str:
    """How to get a damaged cell file back: from git where the committed study tracks it, else
    by running the cell again."""
    return files.repair_advice(path, f"delete it and run `make cells PROFILE={profile}` to "
                                     f"write it again")


def _read(path: Path, parse: Any, profile: str, binary: bool = False) -> Any:
    """``parse`` of the file's text (or, ``binary``, of the path itself): an error naming the
    file and how to repair it when it is damaged or cut short."""
    try:
        return parse(path) if binary else parse(path.read_text())
    except Exception as exc:           # json, pandas and numpy raise many types for a cut file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"{path} is damaged or cut short ({first}); {_repair(path, profile)}") from exc


def _check_history(cell: dict[str, Any], path: Path, profile: str) -> None:
    """A learning curve holds one row per epoch its training promised (01-train.json's
    ``epochs``): a history cut short would draw and judge a wrong curve."""
    promised = cell["01-train"].get("epochs")
    history = cell["history"]
    rows = len(history)
    epochs = list(history["epoch"]) if "epoch" in history else []
    if promised is not None and (rows != promised or epochs != list(range(1, promised + 1))):
        raise DataError(f"{path} holds {rows} epoch(s) where its training ran {promised} "
                        f"(01-train.json): it is cut short or altered; {_repair(path, profile)}")


def load_study(profile: str, reports_dir: str = "reports", runs: list[str] | None = None,
               archs: list[str] | None = None) -> Study:
    """All cells of ``profile`` for ``runs`` (default: every run of :data:`params.RUNS` that has
    rendered cells; a variant run that has none is noted, not an error), each run's seeds and
    architectures (``archs``, default ``vae_core.ARCHS``, within each run's own list), plus the
    classifier's metrics.

    A run's parameters and seeds are those its cells were executed with (their provenance),
    which equal its parameter files' after ``make report``; when the files have changed since,
    ``Study.notes`` says so."""
    from vae_report.workflow.selection import check_selection, run_archs

    check_selection(profile, runs or list(RUNS), archs or list(vae_core.ARCHS))
    chosen = [r for r in RUNS if r in runs] if runs else list(RUNS)
    archs = [a for a in vae_core.ARCHS if a in archs] if archs else list(vae_core.ARCHS)
    params, notes, own, loaded = {}, [], {}, []
    for r in chosen:
        own[r] = [a for a in run_archs(r, profile) if a in archs]
        params[r], note = _run_parameters(profile, r, own[r][0], reports_dir)
        first = layout.cell_dir(profile, r, params[r].get("seeds", [0])[0], own[r][0], reports_dir)
        if not runs and RUNS[r].variant_of and not first.exists():
            notes.append(f"{RUNS[r].title} has no rendered cells (`make report PROFILE={profile}` "
                         f"renders them): its claims are not measured")
            continue
        notes += [note] if note else []
        loaded.append(r)
    seeds = {r: list(params[r].get("seeds", [0])) for r in loaded}
    cells = {(r, s, a): load_cell(profile, r, a, reports_dir, seed=s, pictures=s == seeds[r][0])
             for r in loaded for s in seeds[r] for a in own[r]}
    if any("morphing_chains" not in c["05-chain"] for c in cells.values()):
        notes.append("some cells were rendered before chains were told apart as morphing or "
                     "fading: that claim is not tested on them (`make report` renders them anew)")
    clf = layout.classifier_dir(profile, reports_dir) / "classifier.json"
    if not clf.exists():
        raise FileNotFoundError(f"{clf} does not exist; run `make report PROFILE={profile}` first")
    return Study(profile=profile, runs=[r for r in loaded if r in MAIN_RUNS], archs=archs,
                 seeds=seeds, params=params, cells=cells, classifier=json.loads(clf.read_text()),
                 notes=notes, variants=[r for r in loaded if r not in MAIN_RUNS],
                 run_archs={r: own[r] for r in loaded})


def _curve_numbers(history: Any) -> dict[str, float]:
    """What the claims read from a learning curve (validation ELBO per epoch, nats): the gain
    after the first tenth of the epochs and over the last tenth, the gain per epoch in the
    second tenth and in the second fifth, the epochs of the first fifth whose validation ELBO
    fell, and training − validation at the end. Fractions of the epochs, so that a profile with
    fewer epochs reads the same way."""
    val, train = history.val_elbo.to_numpy(), history.train_elbo.to_numpy()
    n = len(val)
    tenth, fifth = max(1, round(n / 10)), max(1, round(n / 5))
    second_fifth_end = min(n, 2 * fifth)
    return {"final_gap_nats": float(train[-1] - val[-1]),
            "val_gain_after_tenth": float(val[-1] - val[tenth - 1]),
            "val_gain_last_tenth": float(val[-1] - val[max(0, n - 1 - tenth)]),
            # gain per epoch in the second tenth and in the second fifth: the slowdown after
            # "around 20 epochs", without the first epochs' jump that any curve has
            "val_rate_before_fifth": (float(val[fifth - 1] - val[tenth - 1]) / (fifth - tenth)
                                      if fifth > tenth else math.nan),
            "val_rate_after_fifth": (float(val[second_fifth_end - 1] - val[fifth - 1])
                                     / (second_fifth_end - fifth) if second_fifth_end > fifth
                                     else math.nan),
            "val_drops_first_fifth": int((val[1:fifth] < val[:fifth - 1]).sum())}


def _seed_chain_numbers(chain: dict[str, Any], sigma: float) -> dict[str, float]:
    """From 05-chain's ``seed_chains`` (``chain.seed_chain``'s fates; NaN for a cell rendered
    before they were recorded): how badly the seed's chains break — 1 when sampling failed in
    any of them, else the largest share of final pixels ≥ 1 — and the most extreme log std met
    (the encoder's, ½·log-variance, along the plain chain, or the decoder's log σ)."""
    fates = chain.get("seed_chains")
    if not fates:
        return {"seed_chain_broke": math.nan, "seed_chain_log_std": math.nan}
    broke = max(1.0 if f["broke"] else (f["final_share_ge_1"] or 0.0) for f in fates.values())
    plain = fates["plain"]
    log_std = max(abs(plain["logvar_min"]), abs(plain["logvar_max"])) / 2
    return {"seed_chain_broke": broke, "seed_chain_log_std": max(log_std, abs(math.log(sigma)))}


def sharpness_ratio(reconstructions: Any, originals: Any) -> float:
    """How sharp reconstructions are, independent of the likelihood: their mean gradient energy
    (squared differences of neighbouring pixels, both directions) ÷ the originals', over the
    images (``[N, 784]`` arrays). 1: as sharp as the data; blur lowers it."""
    import numpy as np

    def energy(images: Any) -> float:
        x = np.asarray(images, dtype=np.float64).reshape(-1, vae_core.IMAGE_SIDE, vae_core.IMAGE_SIDE)
        return float((np.diff(x, axis=1) ** 2).sum() + (np.diff(x, axis=2) ** 2).sum())

    return energy(reconstructions) / energy(originals)


def reconstruction_error(elbo: dict[str, Any]) -> float:
    """The mean squared reconstruction error per test image (summed over the 784 pixels, one z
    per image), recovered from 02-elbo's log-likelihood term and σ: log N(x; μ, σ²I) =
    −SSE/(2σ²) − 784·log σ − 392·log 2π."""
    sigma, pixels = elbo["decoder_std"], vae_core.IMAGE_PIXELS
    return 2 * sigma ** 2 * (-elbo["test_log_lik"] - pixels * math.log(sigma)
                             - 0.5 * pixels * vae_core.LOG_2PI)


def metrics_table(cells: dict[tuple[str, int, str], dict[str, Any]]) -> Any:
    """The study as one DataFrame indexed by (run, seed, arch), exactly the columns of
    ``evidence.METRIC_COLUMNS`` (checked):

    ``test_elbo``, ``test_iwae`` (nats), ``recon_sq_error`` (:func:`reconstruction_error`),
    ``collapsed_kl_<t>`` (dimensions with KL < t, each of ``evidence.KL_THRESHOLDS``),
    ``min_dim_kl`` (the smallest dimension's KL, nats), ``active_units``, the learning-curve
    numbers of :func:`_curve_numbers`, ``decoder_std`` (the final σ), ``chain_finite``,
    ``final_saturated`` (share of the chain's last pixels ≥ 1), ``frechet_distance``,
    ``chain_confidence`` (mean classifier confidence over all frames), ``class_switches`` (class
    changes per chain), ``morphing_chains`` and ``fading_chains`` (shares of chains,
    ``quality.morphs_and_fades``; NaN for a cell rendered before they were recorded).
    """
    import numpy as np
    import pandas as pd

    from .evidence import KL_THRESHOLDS, METRIC_COLUMNS, check_columns

    rows = {}
    for (run, seed, arch), c in cells.items():
        kl = np.asarray(c["03-collapse"]["kl_per_dim"])
        chain = c["05-chain"]
        rows[(run, seed, arch)] = {
            "test_elbo": c["02-elbo"]["test_elbo"], "test_iwae": c["02-elbo"]["test_iwae"],
            "test_discrete_log_lik": c["02-elbo"]["test_discrete_log_lik"],
            "recon_sq_error": reconstruction_error(c["02-elbo"]),
            "recon_sharpness": (sharpness_ratio(c["reconstructions"], c["originals"])
                                if "reconstructions" in c else math.nan),
            **{f"collapsed_kl_{t:g}": int((kl < t).sum()) for t in KL_THRESHOLDS},
            "min_dim_kl": float(kl.min()),
            "active_units": c["03-collapse"]["active_units"],
            **_curve_numbers(c["history"]),
            "decoder_std": c["02-elbo"]["decoder_std"],
            "chain_finite": bool(chain["finite"]),
            "final_saturated": chain["final_fraction_saturated"],
            "frechet_distance": c["04-samples"]["frechet_distance"],
            "chain_confidence": float(np.mean(chain["frame_confidence"])),
            "class_switches": chain["class_switches_per_chain"],
            "morphing_chains": chain.get("morphing_chains", math.nan),
            "fading_chains": chain.get("fading_chains", math.nan),
            **_seed_chain_numbers(chain, c["02-elbo"]["decoder_std"])}
    table = pd.DataFrame.from_dict(rows, orient="index")[list(METRIC_COLUMNS)]
    table.index = pd.MultiIndex.from_tuples(table.index, names=["run", "seed", "arch"])
    check_columns(table)
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
