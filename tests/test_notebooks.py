"""The step notebooks, run through papermill with tiny parameters on tiny idx files."""
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from vae_report import layout
from vae_report.workflow import selection
from vae_report.report.gather import load_cell
from vae_report.report.seed_reference import SEED_PARAM_COUNTS

# starts JupyterLab, Snakemake, papermill or git: `make test-fast` leaves it out
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "notebooks"
KERNEL = "vae-report"


def _run(step, tmp_path, **params):
    out = tmp_path / f"{step}.ipynb"
    pm.execute_notebook(str(NB / f"{step}.ipynb"), str(out), parameters=params,
                        kernel_name=KERNEL, progress_bar=False, cwd=str(tmp_path))
    return nbformat.read(out, as_version=4)


def _warnings(nb):
    """Warning lines a notebook printed (stderr streams), e.g. torch's UserWarnings."""
    return [line for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.get("name") == "stderr" for line in o.get("text", "").splitlines()
            if "Warning" in line]


def _tiny(tmp_path, tiny_mnist):
    """A cell of the quick profile's run A, shrunk to seconds, its files under ``tmp_path``."""
    return dict(arch="deep-128", run="original", profile="quick", epochs=2, batch_size=8, train_subset=0,
                eval_subset=0, iw_samples=3, chain_steps=4, chain_images=4, n_samples=9,
                n_recon=4, eval_batch_size=7, mnist_source=str(tiny_mnist), seed=1, seeds=[0, 1],
                iw_curve_ks=[1, 3], iw_curve_images=5, classifier_epochs=1, fid_samples=12,
                data_dir=str(tmp_path / "data"), reports_dir=str(tmp_path / "reports"),
                checkpoints_dir=str(tmp_path / "ckpt"))


def _train(params):
    """The cell's checkpoint, trained as the workflow's training job trains it (every seed of
    ``params["seeds"]``), with the same parameters."""
    given = [a for k, v in params.items() if k not in ("profile", "run", "arch", "seed")
             for a in ("-p", k, json.dumps(v))]
    done = subprocess.run([sys.executable, "-m", "vae_report.workflow.train_job", "--profile",
                           params["profile"], "--run", params["run"], "--arch", params["arch"],
                           "--quiet", *given], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_every_notebook_opens_with_a_sentence_then_its_parameters_cell():
    for path in sorted(NB.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        kinds = [c.cell_type for c in nb.cells[:3]]
        assert kinds == ["markdown", "markdown", "code"], path.name
        assert "parameters" in nb.cells[2].metadata.get("tags", []), path.name
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path.name
        checks = ("notebook_params(globals())", "start_notebook(globals()",
                  "models.check_settings(globals())")
        assert any(check in nb.cells[3].source for check in checks), path.name


def test_pipeline_steps_write_their_artifacts(tmp_path, tiny_mnist):
    params = _tiny(tmp_path, tiny_mnist)
    clf_params = {k: v for k, v in params.items()
                  if k in ("profile", "classifier_epochs", "train_subset", "eval_subset", "fid_samples",
                           "mnist_source", "data_dir", "reports_dir", "checkpoints_dir")}
    printed = _warnings(_run("00-classifier", tmp_path, **clf_params))
    clf = (tmp_path / "reports" / "quick" / "classifier" / "classifier.json")
    assert 0.0 <= json.loads(clf.read_text())["test_accuracy"] <= 1.0
    assert (tmp_path / "ckpt" / "quick" / "classifier.pt").exists()
    _train(params)
    for step in layout.CELL_STEPS:
        printed += _warnings(_run(step, tmp_path, **params))
    assert printed == []                       # no UserWarning (e.g. float() of a grad tensor)
    with pytest.raises(FileNotFoundError, match="seed-0"):     # only seed 1 was run
        load_cell("quick", "original", "deep-128", str(tmp_path / "reports"))
    cell = load_cell("quick", "original", "deep-128", str(tmp_path / "reports"), seed=1)
    assert len(cell["history"]) == 2
    assert cell["01-train"]["n_params"] == SEED_PARAM_COUNTS["deep-128"]
    assert cell["02-elbo"]["test_iwae"] > cell["02-elbo"]["test_elbo"] - 50
    # the 8-bit likelihood is a probability: ≤ 0 nats, > 0 bits per pixel, and the same number
    elbo = cell["02-elbo"]
    assert elbo["test_discrete_log_lik"] < 0 < elbo["test_discrete_bits_per_dim"]
    assert elbo["test_discrete_bits_per_dim"] == pytest.approx(
        -elbo["test_discrete_log_lik"] / (784 * math.log(2)))
    assert len(cell["03-collapse"]["kl_per_dim"]) == 64
    assert cell["samples"].shape == (9, 28, 28) and cell["reconstructions"].shape == (4, 28, 28)
    assert cell["05-chain"]["steps"] == 4 and cell["gif"].stat().st_size > 0
    # the training job stacks the two seeds of this small model on a CPU (stack_seeds: auto)
    assert cell["01-train"]["backend"] == "fast-stacked"
    assert list(cell["history"].backend) == ["fast-stacked"] * 2
    assert cell["01-train"]["provenance"]["training_backend"]["used"] == "fast-stacked"
    prov = cell["02-elbo"]["provenance"]
    assert prov["params"]["arch"] == "deep-128" and "torch" in prov["versions"]
    assert prov["params"]["seed"] == 1
    assert (tmp_path / "ckpt" / "quick" / "original" / "seed-1" / "deep-128.pt").exists()
    assert set(cell["02-elbo"]["iwae_curve"]) == {"1", "3"}
    quality = cell["04-samples"]
    assert sum(quality["class_counts"]) == 12 and quality["frechet_distance"] >= 0
    mixing = cell["05-chain"]
    assert len(mixing["frame_classes"]) == 4 and len(mixing["frame_classes"][0]) == 5   # [B][T+1]
    assert 0 <= mixing["class_switches_per_chain"] <= 4


@pytest.mark.parametrize("bad, message", [
    ({"epoch": 3}, "unknown parameter(s) 'epoch' (did you mean 'epochs'?)"),
    ({"arch": "deep-1024"}, "arch: unknown architecture 'deep-1024'"),
    ({"batch_size": "64"}, "batch_size: expected int, got str"),
])
def test_bad_parameters_stop_the_notebook_in_its_first_cell(tmp_path, tiny_mnist, bad, message):
    params = {**_tiny(tmp_path, tiny_mnist), **bad}
    with pytest.raises(pm.PapermillExecutionError) as err:
        _run("01-train", tmp_path, **params)
    assert "ParameterError" in err.value.ename and message in err.value.evalue
    # executed: 1 the parameters cell, 2 papermill's injected cell, 3 the check, which stops it
    assert err.value.exec_count == 3
    assert not (tmp_path / "ckpt").exists()


def test_the_report_renders_a_selection_of_one_run_and_one_architecture(tmp_path, tiny_mnist):
    """`make report RUNS=original ARCHS=vanilla` gathers one cell: every figure and table must
    cope (one row of subplots, no run B), and claims it cannot judge say so."""
    params = {**_tiny(tmp_path, tiny_mnist), "profile": "quick", "run": "original", "seed": 0,
              "arch": "vanilla", "seeds": [0]}
    clf_params = {k: v for k, v in params.items()
                  if k in ("profile", "classifier_epochs", "train_subset", "eval_subset", "fid_samples",
                           "mnist_source", "data_dir", "reports_dir", "checkpoints_dir")}
    _run("00-classifier", tmp_path, **clf_params)
    _train(params)
    for step in layout.CELL_STEPS:
        _run(step, tmp_path, **params)
    # the report gathers every seed of params/runs/original.yaml; the other seeds' cells are
    # copies of seed 0's (this test is about the one-run, one-architecture layout, not spreads)
    cell = layout.cell_dir("quick", "original", 0, "vanilla", tmp_path / "reports")
    for seed in selection.run_seeds("original", "quick")[1:]:
        shutil.copytree(cell, layout.cell_dir("quick", "original", seed, "vanilla", tmp_path / "reports"))
    nb = _run("report", tmp_path, profile="quick", runs=["original"], archs=["vanilla"],
              reports_dir=str(tmp_path / "reports"))
    shown = "".join(str(o.get("data", {}).get(kind, "")) for c in nb.cells
                    for o in c.get("outputs", []) for kind in ("text/html", "text/markdown"))
    assert "The claims table." in shown
    assert "not measured" in shown                  # e.g. the run-B claims
    assert _warnings(nb) == []
