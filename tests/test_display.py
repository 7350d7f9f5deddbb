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
    groups = display._column_groups(display.formatted(wide), True, display.PDF_ROW_CHARACTERS)
    assert latex.count("\\begin{longtable}") == len(groups) > 1
    assert f"part {len(groups)} of {len(groups)}" in latex
    assert sum(len(g) for g in groups) == 9
    for group in groups:          # each row fits: the index, then each column with its spacing
        assert len("deep-512-256-128") + 2 + sum(len(c) + 2 for c in group) <= display.PDF_ROW_CHARACTERS
    # each part's label is the first line of its table's first head: no page break can part them
    for k, table in enumerate(latex.split("\\begin{longtable}")[1:]):
        head = table.split("\\endfirsthead")[0]
        assert f"\\emph{{Columns, part {k + 1} of {len(groups)}}}" in head
        assert head.index("Columns, part") < head.index("\\toprule")
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
    # the PDF: a float of the saved PNG (path from the report's folder) with its caption inside;
    # the separate caption output is for the HTML only
    figure = shown[0]["text/latex"]
    assert figure.startswith("\\begin{figure}[htbp]") and figure.rstrip().endswith("\\end{figure}")
    assert f"{{{tmp_path.name}/f.png}}" in figure
    assert "\\textbf{Figure 1.} A \\texttt{line}." in figure
    assert shown[1]["text/latex"] == ""


def test_a_table_caption_is_kept_with_the_first_rows_in_the_pdf(monkeypatch):
    shown = _shown(monkeypatch)
    caption = "**Table 3.** Test ELBO " + "of every model " * 20
    display.show_table(pd.DataFrame({"x": [1.0]}, index=["vanilla"]), caption)
    html_caption, latex = shown[0]["text/markdown"], shown[0]["text/latex"]
    assert html_caption == caption
    lines = int(re.search(r"\\Needspace\{(\d+)\\baselineskip\}", latex).group(1))
    assert lines == -(-len(caption) // display.PDF_LINE_CHARACTERS) + display.PDF_LINES_WITH_CAPTION
    assert "\\textbf{Table 3.} Test ELBO" in latex and latex.rstrip().endswith("\\nopagebreak")


def test_markdown_captions_become_latex():
    to_latex = display.markdown_to_latex
    assert to_latex("**Figure 2.** The *first* 16") == "\\textbf{Figure 2.} The \\emph{first} 16"
    assert to_latex("Data: `iwae_curve` in `02-elbo.json`") == \
        "Data: \\texttt{iwae\\_curve} in \\texttt{02-elbo.json}"
    # specials are escaped; a lone asterisk, K_max and 2*3*4 stay text
    assert to_latex("50 % of K_max & $1") == "50 \\% of K\\_max \\& \\$1"
    assert to_latex("a * b and 2*3*4") == "a * b and 2*3*4"
    assert to_latex("σ ≥ 1e-3 → ⌊K/k⌋") == "σ ≥ 1e-3 → ⌊K/k⌋"


def test_each_column_gets_its_decimals_and_numbers_are_right_aligned(monkeypatch):
    shown = _shown(monkeypatch)
    t = pd.DataFrame({"ELBO": ["922.6 ± 0.9", "1075.4 ± 8.8"], "KL term": [156.341, 77.49],
                      "decoder σ": [0.0612, float("nan")], "init": ["default", "kaiming"],
                      "count": [64, 1157777]}, index=["vanilla", "deep-512"])
    display.show_table(t, "caption", float_format={"KL term": "{:.1f}", "decoder σ": "{:.3f}"})
    html, latex = shown[-1]["text/html"], shown[-1]["text/latex"]
    assert "156.3" in html and "156.34" not in html and "0.061" in html and "–" in html
    assert "\\begin{longtable}{lrrrlr}" in latex          # index, 3 numbers, text, a number
    with pytest.raises(KeyError, match="does not have.*'KL'"):
        display.show_table(t, "caption", float_format={"KL": "{:.1f}"})
    assert display.formatted(t, "{:.0f}")["KL term"].tolist() == ["156", "77"]
    mixed = pd.DataFrame({"best": ["deep-256", 0.964286]})        # floats in an object column too
    assert display.formatted(mixed)["best"].tolist() == ["deep-256", "0.96"]
