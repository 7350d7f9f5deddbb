"""What the report's tables and figures become in the HTML and the PDF."""
import os
import re
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from vae_report.report import display

matplotlib.use("Agg")


def _shown(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False, **kw: shown.append(obj))
    monkeypatch.setattr(display, "md", lambda text: shown.append({"text/markdown": text}))
    return shown


def test_every_table_stays_whole_at_the_largest_size_that_fits(monkeypatch):
    """No column groups: a table too wide at body size gets a smaller size (never below 8 pt),
    then a landscape page that carries its caption; its header words wrap in their columns."""
    shown = _shown(monkeypatch)
    index = ["deep-512-256-128", "vanilla"]
    # a row: the index 16 + 2 characters, each column 7 + 2 ("1234.25"; headers wrap at words)
    for n_columns, size, landscape in ((2, "normalsize", False), (7, "small", False),
                                       (8, "footnotesize", False), (10, "scriptsize", False),
                                       (11, "small", True), (14, "scriptsize", True)):
        table = pd.DataFrame({f"a long column name {i}": [1234.25, 2.5] for i in range(n_columns)},
                             index=index)
        assert display.pdf_layout(display.formatted(table)) == (size, landscape), n_columns
        display.show_table(table, "**Table 9.** caption")
        caption, latex = shown[-2]["text/latex"], shown[-1]["text/latex"]
        assert latex.count("\\begin{longtable}") == 1 and "Columns, part" not in latex
        assert "\\tiny" not in latex and "adjustbox" not in latex
        assert (f"{{\\{size}\n" in latex) == (size != "normalsize")
        assert ("\\begin{landscape}" in latex) == landscape
        if landscape:          # the caption moves onto the landscape page with its table
            assert caption == "" and "\\textbf{Table 9.} caption" in latex
        else:
            assert "\\textbf{Table 9.} caption" in caption
        # each column as wide as its widest value: 7 characters × 0.55 em, right-aligned
        assert latex.count(">{\\raggedleft\\arraybackslash}p{3.9em}") == n_columns
    too_wide = pd.DataFrame({f"column {i}": ["a value of some length"] for i in range(12)})
    with pytest.raises(ValueError, match="cannot be shown whole.*transpose"):
        display.show_table(too_wide, "caption")


def test_the_claims_table_colours_verdicts_and_escapes_latex(monkeypatch):
    shown = _shown(monkeypatch)
    claims = pd.DataFrame([("50% of a_b", "x & y", "+1.0 ± 0.1 nats", "not reproduced")],
                          columns=["claim (seed)", "this run", "margin (mean ± sd)", "verdict"])
    display.show_claims(claims, "caption")
    html, latex = shown[-1]["text/html"], shown[-1]["text/latex"]
    assert re.search(r'<td class="verdict" data-label="verdict" style="background:#f6d3d3">not '
                     r'reproduced</td>', html)
    # a verdict with its runs' verdicts after it takes the colour of the verdict it starts with
    assert display._verdict_colour("not reproduced (run A not reproduced, run B unclear)") == "#f6d3d3"
    assert display._verdict_colour("unclear") == "#ececec" and display._verdict_colour("not measured") == "#fff"
    assert "50\\% of a\\_b" in latex and "x \\& y" in latex and "\\begin{longtable}" in latex
    assert display._latex_escape("{\\}") == "\\{\\textbackslash{}\\}"      # nbconvert's filter


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
    # the PDF: a float of the saved PNG (path from the report's folder) with its caption inside;
    # the separate caption output is for the HTML only
    figure = shown[0]["text/latex"]
    assert figure.startswith("\\begin{figure}[htbp]") and figure.rstrip().endswith("\\end{figure}")
    assert f"{{{tmp_path.name}/f.png}}" in figure
    assert "\\textbf{Figure 1.} A \\texttt{line}." in figure
    assert shown[1]["text/latex"] == ""


def test_a_table_caption_is_kept_with_its_table_in_the_pdf(monkeypatch):
    """A short table (≤ 25 rows) starts on a page that holds its caption and all its rows; a
    long one keeps its caption with its first rows and continues over pages."""
    shown = _shown(monkeypatch)
    caption = "**Table 3.** Test ELBO " + "of every model " * 20
    caption_lines = -(-len(caption) // display.PDF_LINE_CHARACTERS)
    for rows, kept in ((1, 1 + 4), (25, 25 + 4), (40, display.PDF_LINES_WITH_CAPTION)):
        shown.clear()
        display.show_table(pd.DataFrame({"x": [1.0] * rows}, index=[f"m{i}" for i in range(rows)]),
                           caption)
        html_caption, latex = shown[0]["text/markdown"], shown[0]["text/latex"]
        assert html_caption == caption
        lines = int(re.search(r"\\Needspace\{(\d+)\\baselineskip\}", latex).group(1))
        assert lines == caption_lines + kept, rows
        assert "\\textbf{Table 3.} Test ELBO" in latex and latex.rstrip().endswith("\\nopagebreak")
    # a two-level header of two-word labels takes up to 4 lines, a named index one more
    shown.clear()
    df = pd.DataFrame([[1.0, 2.0]] * 7, index=pd.Index([f"m{i}" for i in range(7)], name="model"),
                      columns=pd.MultiIndex.from_tuples([("run A", "mean pixel"), ("run A", "σ")]))
    display.show_table(df, caption)
    lines = int(re.search(r"\\Needspace\{(\d+)\\baselineskip\}", shown[0]["text/latex"]).group(1))
    assert lines == caption_lines + 7 + (2 + 2 + 1) + 3


def test_the_pinned_pandoc_comes_first_on_path(monkeypatch):
    """nbconvert finds pandoc on PATH: the venv's pinned one, even before a system one."""
    import shutil
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    display.use_pinned_pandoc()
    display.use_pinned_pandoc()                      # idempotent: PATH does not grow
    folder = display.pinned_pandoc_dir()
    assert os.environ["PATH"] == f"{folder}{os.pathsep}/usr/bin:/bin"
    assert Path(shutil.which("pandoc")).parent == folder


def test_markdown_captions_become_latex():
    to_latex = display.markdown_to_latex
    assert to_latex("**Figure 2.** The *first* 16") == "\\textbf{Figure 2.} The \\emph{first} 16"
    assert to_latex("Data: `iwae_curve` in `02-elbo.json`") == \
        "Data: \\texttt{iwae\\_curve} in \\texttt{02-elbo.json}"
    # specials are escaped; a lone asterisk and K_max stay text (markdown's rules: pandoc, as
    # the HTML's renderer reads the same caption)
    assert to_latex("50 % of K_max & $1") == "50 \\% of K\\_max \\& \\$1"
    assert to_latex("a * b") == "a * b"
    assert to_latex("σ ≥ 1e-3 → ⌊K/k⌋") == "σ ≥ 1e-3 → ⌊K/k⌋"


def test_each_column_gets_its_decimals_and_numbers_are_right_aligned(monkeypatch):
    shown = _shown(monkeypatch)
    t = pd.DataFrame({"ELBO": ["922.6 ± 0.9", "1075.4 ± 8.8"], "KL term": [156.341, 77.49],
                      "decoder σ": [0.0612, float("nan")], "init": ["default", "kaiming"],
                      "count": [64, 1157777]}, index=["vanilla", "deep-512"])
    display.show_table(t, "caption", float_format={"KL term": "{:.1f}", "decoder σ": "{:.3f}"})
    html, latex = shown[-1]["text/html"], shown[-1]["text/latex"]
    assert "156.3" in html and "156.34" not in html and "0.061" in html and "–" in html
    spec = re.search(r"\\begin\{longtable\}\{(.*)\}\n", latex).group(1)
    aligned = re.findall(r"raggedleft|raggedright", spec)  # index, 3 numbers, text, a number
    assert spec.startswith("l>") and aligned == ["raggedleft"] * 3 + ["raggedright", "raggedleft"]
    with pytest.raises(KeyError, match="does not have.*'KL'"):
        display.show_table(t, "caption", float_format={"KL": "{:.1f}"})
    assert display.formatted(t, "{:.0f}")["KL term"].tolist() == ["156", "77"]
    mixed = pd.DataFrame({"best": ["deep-256", 0.964286]})        # floats in an object column too
    assert display.formatted(mixed)["best"].tolist() == ["deep-256", "0.96"]
