"""What every step notebook does first, and the metrics file each step writes."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Mapping

import torch

from vae_report.data import MNISTSplits, load_mnist
from vae_report.devices import pick_device, set_threads
from vae_report.files import write_json
from vae_report.layout import project_path
from vae_report.params import StudyParams, notebook_params
from vae_report.provenance import provenance


def start_notebook(namespace: Mapping[str, Any],
                   output: Literal["cell", "classifier"] = "cell") -> tuple[StudyParams, torch.device]:
    """Validate a notebook's parameters, set threads, pick the device, create its output folder
    (the cell's, or the classifier's for ``output="classifier"``).

    Call as ``P, device = start_notebook(globals())`` right after the parameters cell: at that
    point the namespace holds only the parameters cell's names and papermill's injections.
    """
    params = notebook_params(namespace)
    set_threads(params.threads)
    device = pick_device(params.device)
    folder = params.out_dir if output == "cell" else params.classifier_dir
    folder.mkdir(parents=True, exist_ok=True)
    return params, device


def study_data(params: StudyParams) -> MNISTSplits:
    """MNIST as the parameters ask: the split of ``split_seed``, cut to the profile's subsets."""
    data = load_mnist(project_path(params.data_dir), params.mnist_source or None,
                      params.val_split, params.split_seed)
    return data.subset(params.train_subset, params.eval_subset)


def save_metrics(params: StudyParams, name: str, metrics: Mapping[str, Any],
                 folder: Path | None = None, **provenance_extra: Any) -> Path:
    """Write ``<folder>/<name>.json`` (default the cell's ``out_dir``): the metrics plus
    parameters, git commit and versions (and ``provenance_extra``) under ``provenance``."""
    path = (folder or params.out_dir) / f"{name}.json"
    write_json({**metrics, "provenance": provenance(params.as_dict(), **provenance_extra)}, path)
    return path
