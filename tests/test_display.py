"""What the report's tables and figures become in the HTML and the PDF."""
import re

import matplotlib
import pandas as pd
import pytest

from vae_report import display

matplotlib.use("Agg")


def _shown(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False, **kw: shown.append(obj))
    monkeypatch.setattr(display, "md", lambda text: shown.append({"text/markdown": text}))
    return shown


def test_a_wide_table_is_split_into_column_groups_at_body_size(monkeypatch):
    shown = _shown(monkeypatch)
    wide = pd.DataFrame({f"a long column name {i}": [1.25, 2.5] for i in range(9)},
                        index=["deep-512-256-128", "vanilla"])
    display.show_table(wide, "**Table 9.** caption")
    latex = shown[-1]["text/latex"]
    assert "adjustbox" not in latex and "\\small" not in latex and "\\tiny" not in latex
    groups = display._column_groups(wide, "{:.2f}".format, True, display.PDF_ROW_CHARACTERS)
    assert latex.count("\\begin{longtable}") == len(groups) > 1
    assert f"part {len(groups)} of {len(groups)}" in latex
    assert sum(len(g) for g in groups) == 9
    for group in groups:          # each row fits: the index, then each column with its spacing
        assert len("deep-512-256-128") + 2 + sum(len(c) + 2 for c in group) <= display.PDF_ROW_CHARACTERS
    narrow = pd.DataFrame({"x": [1.0]}, index=["vanilla"])
    display.show_table(narrow, "caption")
    assert shown[-1]["text/latex"].count("\\begin{longtable}") == 1


def test_the_claims_table_colours_verdicts_and_escapes_latex(monkeypatch):
    shown = _shown(monkeypatch)
    claims = pd.DataFrame([("50% of a_b", "x & y", "+1.0 ± 0.1 nats", "not reproduced")],
                          columns=["claim (seed)", "this run", "margin (mean ± sd)", "verdict"])
    display.show_claims(claims, "caption")
    html, latex = shown[-1]["text/html"], shown[-1]["text/latex"]
    assert re.search(r'<td class="verdict" style="background:#f6d3d3;white-space:nowrap">not '
                     r'reproduced</td>', html)
    assert "50\\% of a\\_b" in latex and "x \\& y" in latex and "\\begin{longtable}" in latex
    assert display._latex_escape("{\\}") == "\\{\\textbackslash{}\\}"


def test_figures_are_saved_at_twice_the_resolution_with_alt_text(monkeypatch, tmp_path):
    import matplotlib.pyplot as plt
    shown = _shown(monkeypatch)
    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot([0, 1])
    display.show_figure(fig, tmp_path / "f.png", "**Figure 1.** A `line`.", dpi=90)
    data = (tmp_path / "f.png").read_bytes()
    html = shown[0]["text/html"]
    assert 'alt="Figure 1. A line."' in html
    shown_width = int(re.search(r"width:(\d+)px", html).group(1))
    assert display._png_width(data) == pytest.approx(2 * shown_width, abs=1)
    assert shown[0]["image/png"] and shown[1]["text/markdown"].startswith("**Figure 1.**")
