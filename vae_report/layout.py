"""Where every output of the study lives: the one definition of the layout.

``reports/<profile>/<run>/seed-<seed>/<arch>/<step>.ipynb`` and the step's small artifacts beside
it; ``checkpoints/<profile>/<run>/seed-<seed>/<arch>.pt``; the digit classifier under
``reports/<profile>/classifier/`` and ``checkpoints/<profile>/classifier.pt``; the report and its
``figures/`` under ``reports/<profile>/``; the trained weights published with the study (the
first seed of each run, and the classifier) under ``reports/<profile>/models/``. Relative folders
are taken from the project root.
"""
from __future__ import annotations

from pathlib import Path

#: The folder holding vae_core.py, params/, notebooks/ and reports/.
PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: The steps every (run, seed, architecture) cell runs, in order.
CELL_STEPS: tuple[str, ...] = ("01-train", "02-elbo", "03-collapse", "04-samples", "05-chain")


def project_path(path: str | Path) -> Path:
    """``path`` as given when absolute, else under :data:`PROJECT_ROOT`."""
    p = Path(path)
    return p if p.is_absolute() else PROJECT_ROOT / p


def cell_folder(run: str, seed: int, arch: str) -> Path:
    """The relative folder of one cell of the study: ``<run>/seed-<seed>/<arch>``."""
    return Path(run) / f"seed-{seed}" / arch


def profile_dir(profile: str, reports_dir: str | Path = "reports") -> Path:
    """``reports/<profile>``: the report, its figures and every cell's folder."""
    return project_path(reports_dir) / profile


def cell_dir(profile: str, run: str, seed: int, arch: str,
             reports_dir: str | Path = "reports") -> Path:
    """``reports/<profile>/<run>/seed-<seed>/<arch>``: a cell's executed notebooks and artifacts."""
    return profile_dir(profile, reports_dir) / cell_folder(run, seed, arch)


def checkpoint_path(profile: str, run: str, seed: int, arch: str,
                    checkpoints_dir: str | Path = "checkpoints") -> Path:
    """``checkpoints/<profile>/<run>/seed-<seed>/<arch>.pt``."""
    return (project_path(checkpoints_dir) / profile
            / cell_folder(run, seed, arch).with_suffix(".pt"))


def classifier_dir(profile: str, reports_dir: str | Path = "reports") -> Path:
    """``reports/<profile>/classifier``: the digit classifier's notebook and metrics."""
    return profile_dir(profile, reports_dir) / "classifier"


def classifier_path(profile: str, checkpoints_dir: str | Path = "checkpoints") -> Path:
    """``checkpoints/<profile>/classifier.pt``: its cached weights."""
    return project_path(checkpoints_dir) / profile / "classifier.pt"


def models_dir(profile: str, reports_dir: str | Path = "reports") -> Path:
    """``reports/<profile>/models``: the weights published with the study (committed for
    ``full``), so that a clone can explore the models behind the report without training."""
    return profile_dir(profile, reports_dir) / "models"


def published_model_path(profile: str, run: str, seed: int | str, arch: str,
                         reports_dir: str | Path = "reports") -> Path:
    """``reports/<profile>/models/<run>/seed-<seed>/<arch>.pt``: one model's published weights."""
    return (models_dir(profile, reports_dir)
            / cell_folder(run, seed, arch).with_suffix(".pt"))     # type: ignore[arg-type]


def published_classifier_path(profile: str, reports_dir: str | Path = "reports") -> Path:
    """``reports/<profile>/models/classifier.pt``: the digit classifier's published weights."""
    return models_dir(profile, reports_dir) / "classifier.pt"


def figures_dir(profile: str, reports_dir: str | Path = "reports") -> Path:
    """``reports/<profile>/figures``: the report's figures, each named after the figure it is."""
    return profile_dir(profile, reports_dir) / "figures"


def cell_notebook(profile: str, run: str, seed: int | str, arch: str, step: str,
                  reports_dir: str | Path = "reports") -> Path:
    """``reports/<profile>/<run>/seed-<seed>/<arch>/<step>.ipynb``: one executed step."""
    return cell_dir(profile, run, seed, arch, reports_dir) / f"{step}.ipynb"   # type: ignore[arg-type]


def classifier_notebook(profile: str, reports_dir: str | Path = "reports") -> Path:
    """``reports/<profile>/classifier/00-classifier.ipynb``."""
    return classifier_dir(profile, reports_dir) / "00-classifier.ipynb"


def report_file(profile: str, suffix: str = ".ipynb", reports_dir: str | Path = "reports") -> Path:
    """``reports/<profile>/report.ipynb`` (or ``.html``, ``.pdf``)."""
    return profile_dir(profile, reports_dir) / f"report{suffix}"


def mnist_cache(data_dir: str | Path = "data") -> Path:
    """``data/MNIST/tensors.pt``: MNIST as torchvision read it, prepared once before any cell."""
    return project_path(data_dir) / "MNIST" / "tensors.pt"


def relative(path: str | Path) -> str:
    """``path`` relative to the project root, as the Snakefile names files."""
    return str(Path(path).relative_to(PROJECT_ROOT))
