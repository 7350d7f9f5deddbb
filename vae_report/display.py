"""Showing tables and figures in a notebook so that both the HTML and the PDF report carry them."""
from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def md(text: str) -> None:
    """Show markdown text (rendered in both the HTML and the PDF)."""
    from IPython.display import Markdown, display

    display(Markdown(text))


#: Lines of a table (head and first rows) that must fit below its caption on the PDF page, else
#: both move to the next page (``needspace``): a caption is never left alone at a page's foot.
PDF_LINES_WITH_CAPTION = 6


def _caption(text: str, keep_lines: int = PDF_LINES_WITH_CAPTION) -> None:
    """A table's caption: markdown in the HTML; in the PDF the same words, kept on one page with
    the first ``keep_lines`` lines of what follows."""
    from IPython.display import display

    caption_lines = -(-len(text) // PDF_LINE_CHARACTERS)           # ceil
    latex = (rf"\par\Needspace{{{caption_lines + keep_lines}\baselineskip}}" + "\n\\noindent "
             + markdown_to_latex(text) + "\n\\nopagebreak\n")
    display({"text/markdown": text, "text/latex": latex}, raw=True)


def markdown_to_latex(text: str) -> str:
    """A caption's inline markdown as LaTeX: ``**bold**``, ``*italic*`` and `` `code` `` become
    ``\\textbf``, ``\\emph`` and ``\\texttt``; every other LaTeX special character is escaped.
    (Only what the report's captions use: no links, no nesting of code inside bold.)"""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for k, part in enumerate(parts):
        if k % 2:                                   # a code span: its characters as they are
            out.append(r"\texttt{" + _latex_escape(part[1:-1]) + "}")
            continue
        part = _latex_escape(part)
        part = re.sub(r"\*\*(.+?)\*\*", r"\\textbf{\1}", part)
        part = re.sub(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", r"\\emph{\1}", part)
        out.append(part)
    return "".join(out)


#: Characters of body text a table row may take in the PDF (DejaVu Serif 11 pt on the 6.9-inch
#: text width, ≈ 6 pt a character, less the space between columns): wider tables are split into
#: column groups.
PDF_ROW_CHARACTERS = 80
#: Characters of running text in one line of the PDF (for a caption's height).
PDF_LINE_CHARACTERS = 95


#: The format of a table's float columns unless ``show_table`` is told otherwise.
DEFAULT_FLOAT_FORMAT = "{:.2f}"

_NUMBER = r"[−+-]?\d[\d,.]*"
#: Text that reads as a number (right-aligned in the PDF): "12.5", "1,157,777", "922.6 ± 0.9",
#: "3 (47 %)", "–" (missing).
_NUMERIC_TEXT = re.compile(rf"^(–|{_NUMBER}( ± {_NUMBER})?( %)?( \(.*\))?)$")


def show_table(df: Any, caption: str, float_format: str | Mapping[Any, str] = DEFAULT_FLOAT_FORMAT,
               index: bool = True) -> None:
    """Show a DataFrame as an HTML table in the HTML and a LaTeX table in the PDF.

    ``float_format`` formats the float columns: one format for all, or a mapping from column to
    format (the columns it does not name get :data:`DEFAULT_FLOAT_FORMAT`), so each column can
    carry the decimals its quantity has. The PDF never shrinks a table below body size: a table
    too wide for the page is split into groups of columns (each repeating the index), each a
    ``longtable`` that may run over pages; numbers are right-aligned, text left-aligned.
    """
    from IPython.display import display

    shown = formatted(df, float_format)
    _caption(caption)
    html_table = shown.to_html(index=index, na_rep="–", border=0)
    display({"text/html": html_table, "text/latex": _latex_tables(shown, index),
             "text/plain": shown.to_string()}, raw=True)


def formatted(df: Any, float_format: str | Mapping[Any, str] = DEFAULT_FLOAT_FORMAT) -> Any:
    """``df`` with its float columns turned into text by their formats (see :func:`show_table`);
    a missing value becomes "–". A mapping naming a column ``df`` lacks is an error."""
    import numpy as np

    formats = float_format if isinstance(float_format, Mapping) else {}
    default = float_format if isinstance(float_format, str) else DEFAULT_FLOAT_FORMAT
    unknown = [c for c in formats if c not in df.columns]
    if unknown:
        raise KeyError(f"float_format names columns the table does not have: {unknown}; "
                       f"its columns are {list(df.columns)}")
    def text(v: Any, fmt: str) -> Any:
        if isinstance(v, (float, np.floating)):       # also a float in a column of mixed types
            return "–" if np.isnan(v) else fmt.format(v)
        return v
    out = df.copy()
    for col in df.columns:
        out[col] = df[col].map(lambda v, fmt=formats.get(col, default): text(v, fmt)).astype(object)
    return out


def _column_groups(df: Any, index: bool, limit: int) -> list[list[Any]]:
    """The columns of ``df`` (formatted) in groups whose rows fit ``limit`` characters."""
    def width(values: Any, header: Any) -> int:
        heads = header if isinstance(header, tuple) else (header,)     # a MultiIndex column
        return max([len(str(h)) for h in heads] + [len(str(v)) for v in values]) + 2
    index_width = width(df.index, df.index.name or "") if index else 0
    groups: list[list[Any]] = [[]]
    used = index_width
    for col in df.columns:
        w = width(df[col], col)
        if groups[-1] and used + w > limit:
            groups.append([])
            used = index_width
        groups[-1].append(col)
        used += w
    return groups


def _alignment(df: Any, index: bool) -> str:
    """A LaTeX column spec: the index levels left, each column right when all of it reads as a
    number, else left."""
    def numeric(values: Any) -> bool:
        return all(isinstance(v, (int, float)) and not isinstance(v, bool)
                   or _NUMERIC_TEXT.match(str(v)) for v in values)
    levels = "l" * df.index.nlevels if index else ""
    return levels + "".join("r" if numeric(df[c]) else "l" for c in df.columns)


def _latex_tables(df: Any, index: bool) -> str:
    """``df`` (formatted) as LaTeX longtables at body size, split into column groups."""
    groups = _column_groups(df, index, PDF_ROW_CHARACTERS)
    parts = []
    for k, cols in enumerate(groups):
        part = df[cols].to_latex(index=index, na_rep="--", escape=True, multirow=False,
                                 longtable=True,         # \multirow would need a package
                                 column_format=_alignment(df[cols], index))
        if len(groups) > 1:
            part = _label_first_head(part, f"Columns, part {k + 1} of {len(groups)}")
        parts.append(part)
    return "\n".join(parts)


def _label_first_head(longtable: str, label: str) -> str:
    """``longtable`` with ``label`` (in italics) as the first line of its first head, so that the
    label cannot be parted from the table by a page break (a paragraph before it can)."""
    match = re.search(r"\\begin\{longtable\}\{([^}]*)\}\n", longtable)
    if match is None:
        raise ValueError("not a longtable: " + longtable[:60])
    n_columns = len(re.findall(r"[lrc]", match.group(1)))
    line = rf"\multicolumn{{{n_columns}}}{{@{{}}l}}{{\emph{{{_latex_escape(label)}}}}} \\[2pt]" + "\n"
    return longtable[: match.end()] + line + longtable[match.end():]


def _alt(caption: str, limit: int = 300) -> str:
    """Alt text from a caption: its words without markdown marks, cut at ``limit`` characters."""
    text = re.sub(r"[*_`]", "", caption).replace('"', "'").strip()
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _png_width(data: bytes) -> int:
    """A PNG's width in pixels (from its IHDR header)."""
    return int.from_bytes(data[16:20], "big")


def show_figure(fig: Any, path: str | os.PathLike, caption: str, dpi: int = 90,
                alt: str | None = None) -> None:
    """Save a matplotlib figure as ``path`` (named after the figure) at twice ``dpi`` and show it
    at the size ``dpi`` gives, sharp on high-density screens, with alt text (``alt``, default the
    caption's words) and the caption below it. The HTML gets an ``<img>`` that shrinks to a narrow
    window; the PDF a floating figure of the saved PNG with its caption (see :func:`_pdf_figure`)."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=2 * dpi, bbox_inches="tight")
    plt.close(fig)
    data = path.read_bytes()
    img = (f'<img alt="{html.escape(alt or _alt(caption))}" src="data:image/png;base64,{_b64(data)}" '
           f'style="width:{_png_width(data) // 2}px;max-width:100%;height:auto"/>')
    display({"text/html": img, "image/png": _b64(data), "text/latex": _pdf_figure(path, caption)},
            raw=True)
    _html_only_caption(caption)


def _pdf_figure(path: Path, caption: str) -> str:
    """A LaTeX float of the PNG at ``path`` with ``caption`` below it. Floating (``[htbp]``) lets
    the text that follows fill the page when the figure does not fit, rather than leaving the
    page half empty; image and caption stay together. The path is relative to the folder above
    the figure's folder — the report notebook's (``reports/<profile>/figures/…`` beside
    ``reports/<profile>/report.ipynb``), where nbconvert runs LaTeX (its TEXINPUTS)."""
    return ("\\begin{figure}[htbp]\n"
            f"\\centerline{{\\adjustimage{{max size={{\\linewidth}}{{0.78\\textheight}}}}"
            f"{{{path.parent.name}/{path.name}}}}}\n"
            "\\par\\smallskip\n" + markdown_to_latex(caption) + "\n\\end{figure}\n")


def _html_only_caption(caption: str) -> None:
    """A caption for the HTML only (the PDF's is inside its figure float)."""
    from IPython.display import display

    display({"text/markdown": caption, "text/latex": ""}, raw=True)


VERDICT_COLOURS = {"reproduced": "#d6f0d6", "not reproduced": "#f6d3d3", "unclear": "#ececec"}


def show_claims(df: Any, caption: str) -> None:
    """The claims table: left-aligned text, each verdict on a coloured cell that does not wrap;
    in the PDF a ``longtable`` at body size with wrapping columns (it may run over pages)."""
    from IPython.display import display

    _caption(caption)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for values in df.itertuples(index=False):
        cells = [f"<td>{html.escape(str(v))}</td>" for v in values[:-1]]
        verdict = str(values[-1])
        cells.append(f'<td class="verdict" style="background:{VERDICT_COLOURS.get(verdict, "#fff")};'
                     f'white-space:nowrap">{html.escape(verdict)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    table = (f'<table class="claims" style="text-align:left"><thead><tr>{head}</tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table>')
    widths = ["0.23", "0.37", "0.15", "0.15"][: len(df.columns)]
    spec = "".join(rf">{{\raggedright\arraybackslash}}p{{{w}\linewidth}}" for w in widths)
    row_end = "\\\\\\hline\n"                     # \\ \hline: end of row, rule below it
    body = row_end.join(" & ".join(_latex_escape(str(v)) for v in values)
                        for values in df.itertuples(index=False))
    header = " & ".join(rf"\textbf{{{_latex_escape(str(c))}}}" for c in df.columns)
    latex = (rf"\begin{{longtable}}{{{spec}}}\hline" + "\n" + header + "\\\\\\hline\\endhead\n"
             + body + row_end + "\\end{longtable}\n")
    display({"text/html": table, "text/latex": latex, "text/plain": df.to_string()}, raw=True)


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}


def _latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (one pass: no escape is escaped again)."""
    return re.sub(r"[\\&%$#_{}~^]", lambda m: _LATEX_SPECIAL[m.group()], text)


def show_contents(sections: Sequence[tuple[str, str]]) -> None:
    """A linked table of contents: ``sections`` as (title, anchor id) in the HTML; LaTeX's own
    ``\\tableofcontents`` in the PDF."""
    from IPython.display import display

    items = "".join(f'<li><a href="#{anchor}">{html.escape(title)}</a></li>'
                    for title, anchor in sections)
    display({"text/html": f'<nav class="toc"><p><b>Contents</b></p><ol>{items}</ol></nav>',
             "text/latex": "\\tableofcontents\n",
             "text/plain": "\n".join(title for title, _ in sections)}, raw=True)


def show_animations(items: Sequence[tuple[str, Path]], filmstrip: str | os.PathLike,
                    caption: str) -> None:
    """GIFs for the HTML (``<img>`` with data URIs: nbconvert's HTML drops ``image/gif`` outputs)
    and, for the PDF, which cannot play them, the PNG filmstrip saved at ``filmstrip`` (in the
    report's figures folder) as a floating figure with the caption."""
    from IPython.display import display

    cells = "".join(
        f'<figure style="display:inline-block;margin:4px;text-align:center">'
        f'<img alt="chain of {label}" src="data:image/gif;base64,{_b64(Path(gif).read_bytes())}"'
        f' style="width:260px;max-width:100%;image-rendering:pixelated"/>'
        f'<figcaption style="font-size:80%">{label}</figcaption></figure>'
        for label, gif in items)
    display({"text/html": f'<div class="chains">{cells}</div>',
             "image/png": _b64(Path(filmstrip).read_bytes()),
             "text/latex": _pdf_figure(Path(filmstrip), caption)}, raw=True)
    _html_only_caption(caption)
