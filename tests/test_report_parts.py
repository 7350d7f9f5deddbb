"""The report's tables and figures, built from the committed full study (reports/full: its JSON,
histories and first-seed pictures, no training): each fits the PDF whole, every figure is at
most report_figures.WIDTH wide with no text below report_figures.FONT, and the captions carry
the study's own numbers."""
import matplotlib
import pytest

from vae_report.report import display, evidence, gather
from vae_report.report import figures as figure
from vae_report.report import tables as table

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def study():
    return gather.load_study("full")


@pytest.fixture(scope="module")
def metrics(study):
    return study.metrics_table()


def test_every_table_fits_the_pdf_whole_and_has_a_caption(study, metrics):
    parts = [table.setup(study, "full"), table.architectures(study),
             table.generalisation_gap(study, metrics), table.collapse(study, metrics),
             table.iwae_by_k(study), table.elbo_against_iwae(study, metrics),
             table.sample_quality(study), table.chain_end(study),
             table.chain_mixing(study, metrics), table.training_cost(study), table.parameters(study),
             table.deviations(study), table.variant(study),
             *(table.test_elbo(study, metrics, r, n) for r, n in zip(study.runs, (3, 4)))]
    for part in parts:
        assert isinstance(part, display.TablePart) and part.caption.startswith("**")
        shown = display.formatted(part.df, part.float_format)
        if part.wrap:                                   # sentences in wrapping columns
            assert len(part.wrap) == len(part.df.columns) and sum(part.wrap) <= 1.0
        else:
            size, landscape = display.pdf_layout(shown)  # raises when it cannot be shown whole
            # no table of the report needs a landscape page
            assert not landscape, part.caption[:60]
        assert not part.df.empty
    assert list(parts[1].df["match"]) == ["yes"] * 7    # the seed's parameter counts, exactly


def test_table3_beside_the_seed_and_its_note(study, metrics):
    t3 = table.test_elbo(study, metrics, "original", 3)
    assert t3.df.loc["deep-512", "ELBO (seed)"] == 56.41
    assert "Spearman ρ = 0.68 (exact permutation p = 0.11" in t3.note and "floors never bind" in t3.note
    # the seed's numbers and ranks first (what a phone shows before it scrolls)
    assert list(t3.df.columns[:4]) == ["ELBO (seed)", "rank (seed)", "ELBO (ours)", "rank (ours)"]
    t4 = table.test_elbo(study, metrics, "retrained", 4)
    assert "the same columns as Table 3" in t4.caption and "importance-weighted" not in t4.caption
    assert f"mean ± sd over {len(study.seeds['original'])} seeds" in t3.caption


def test_the_variant_table_is_there_with_the_variant_runs_only(study):
    assert study.variants == ["original-exp", "retrained-exp"]
    fates = table.variant(study)
    assert isinstance(fates, display.TablePart)
    assert list(fates.df.columns) == ["plain", "normalised", "clipped", "log-variance", "decoder σ"]
    assert len(fates.df) == sum(len(study.seeds[r]) * len(study.archs_of(r)) for r in study.variants)
    main_only = gather.load_study("full", runs=list(study.runs))
    assert main_only.variants == [] and table.variant(main_only) is None


def test_every_figure_is_narrow_enough_and_its_text_large_enough(study, metrics):
    figure.style()
    parts = [figure.learning_curves(study, "original", 1), figure.reconstructions(study, "original", 2),
             figure.collapse(study), figure.samples(study, "retrained", 7),
             figure.seed_spread(study, metrics, 8), figure.iwae_against_k(study, 9),
             figure.sample_classes(study, 10), figure.filmstrips(study, "retrained"),
             figure.chain_classes(study, 11), figure.chain_mixing(study, 12)]
    for part in parts:
        fig = part.fig
        assert fig.get_size_inches()[0] <= figure.WIDTH + 1e-9, part.name
        sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip()]
        # the PDF shows it at most 6.9 in wide: no text below 7 pt there
        shrink = min(1.0, 6.9 / fig.get_size_inches()[0])
        assert sizes and min(sizes) * shrink >= 7.0, (part.name, min(sizes))
        matplotlib.pyplot.close(fig)
    # the seed-spread figure draws one dot per (run, seed, model)
    spread = figure.seed_spread(study, metrics, 8)
    dots = sum(len(c.get_offsets()) for c in spread.fig.axes[0].collections)
    assert dots >= len(metrics.loc[list(study.runs)])
    assert evidence.KL_THRESHOLD == 0.01
    # one ELBO range for both runs' learning curves
    a, b = (figure.learning_curves(study, r, n).fig for r, n in (("original", 1), ("retrained", 5)))
    assert a.axes[0].get_ylim() == b.axes[0].get_ylim()
    assert len(a.axes[0].get_lines()) == 2 * len(study.archs) * len(study.seeds["original"])


def test_the_parameters_appendix_shows_only_what_differs(study):
    p = table.parameters(study)
    assert "batch_size" in p.df.index and "lr" not in p.df.index
    assert all(p.df.loc[k].nunique() > 1 for k in p.df.index)
    assert "Shared by every run:" in p.caption and "lr 0.0003" in p.caption


def test_the_classifier_note_states_its_accuracy(study):
    from vae_report.report import findings
    note = findings.classifier_note(study.classifier)
    assert f"{100 * study.classifier['test_accuracy']:.2f} %" in note and "below 99 %" not in note
    weak = {**study.classifier, "test_accuracy": 0.9}
    assert "below 99 %" in findings.classifier_note(weak)


def test_every_function_the_report_notebook_calls_exists():
    """A cheap guard before a render: each `module.name` the notebook uses is there."""
    import json
    import re
    from pathlib import Path

    import ast
    import importlib

    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "report.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    modules = {}                                  # the name each project module is known by
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vae_report"):
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                if importlib.util.find_spec(name.rpartition(".")[0]) and _is_module(name):
                    modules[alias.asname or alias.name] = importlib.import_module(name)
    used = set(re.findall(rf"\b({'|'.join(modules)})\.(\w+)", code))
    assert len(modules) >= 5 and len(used) > 20, (modules, used)
    missing = [f"{m}.{n}" for m, n in used if not hasattr(modules[m], n)]
    assert not missing, missing


def _is_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def test_the_report_notebook_calls_and_shows():
    """Its logic lives in the package, with tests: the notebook stays a short script."""
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "report.ipynb").read_text())
    lines = [line for c in nb["cells"] if c["cell_type"] == "code"
             for line in "".join(c["source"]).splitlines()
             if line.strip() and not line.strip().startswith("#")]
    assert len(lines) <= 150, len(lines)
    assert not any(line.lstrip().startswith(("def ", "class ")) for line in lines)
