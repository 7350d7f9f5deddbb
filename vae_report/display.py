"""Showing tables and figures in a notebook so that both the HTML and the PDF report carry them."""
from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path
from typing import Any, Sequence


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def md(text: str) -> None:
    """Show markdown text (rendered in both the HTML and the PDF)."""
    from IPython.display import Markdown, display

    display(Markdown(text))


#: Characters of body text a table row may take in the PDF (DejaVu Serif 11 pt on the 6.9-inch
#: text width, ≈ 6 pt a character, less the space between columns): wider tables are split into
#: column groups.
PDF_ROW_CHARACTERS = 80


def show_table(df: Any, caption: str, float_format: str = "{:.2f}", index: bool = True) -> None:
    """Show a DataFrame as an HTML table in the HTML and a LaTeX table in the PDF.

    The PDF never shrinks a table below body size: a table too wide for the page is split into
    groups of columns (each repeating the index), each a ``longtable`` that may run over pages.
    """
    from IPython.display import display

    md(caption)
    fmt = (lambda v: float_format.format(v))
    html_table = df.to_html(float_format=fmt, index=index, na_rep="–", border=0)
    display({"text/html": html_table, "text/latex": _latex_tables(df, fmt, index),
             "text/plain": df.to_string()}, raw=True)


def _column_groups(df: Any, fmt: Any, index: bool, limit: int) -> list[list[Any]]:
    """The columns of ``df`` in groups whose rows fit ``limit`` characters (index included)."""
    def width(values: Any, header: Any) -> int:
        cells = [fmt(v) if isinstance(v, float) else str(v) for v in values]
        heads = header if isinstance(header, tuple) else (header,)     # a MultiIndex column
        return max([len(str(h)) for h in heads] + [len(c) for c in cells]) + 2
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


def _latex_tables(df: Any, fmt: Any, index: bool) -> str:
    groups = _column_groups(df, fmt, index, PDF_ROW_CHARACTERS)
    parts = []
    for k, cols in enumerate(groups):
        part = df[cols].to_latex(float_format=fmt, index=index, na_rep="--", escape=True,
                                 multirow=False, longtable=True)   # \multirow needs a package
        if len(groups) > 1:
            part = f"\\noindent\\emph{{Columns, part {k + 1} of {len(groups)}}}\n" + part
        parts.append(part)
    return "\n".join(parts)


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
    window; the PDF the PNG itself."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=2 * dpi, bbox_inches="tight")
    plt.close(fig)
    data = path.read_bytes()
    img = (f'<img alt="{html.escape(alt or _alt(caption))}" src="data:image/png;base64,{_b64(data)}" '
           f'style="width:{_png_width(data) // 2}px;max-width:100%;height:auto"/>')
    display({"text/html": img, "image/png": _b64(data)}, raw=True)
    md(caption)


VERDICT_COLOURS = {"reproduced": "#d6f0d6", "not reproduced": "#f6d3d3", "unclear": "#ececec"}


def show_claims(df: Any, caption: str) -> None:
    """The claims table: left-aligned text, each verdict on a coloured cell that does not wrap;
    in the PDF a ``longtable`` at body size with wrapping columns (it may run over pages)."""
    from IPython.display import display

    md(caption)
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


def show_animations(items: Sequence[tuple[str, Path]], filmstrip_png: bytes, caption: str) -> None:
    """GIFs for the HTML (``<img>`` with data URIs: nbconvert's HTML drops ``image/gif`` outputs)
    and a PNG filmstrip in the same output for the PDF, which cannot play them."""
    from IPython.display import display

    cells = "".join(
        f'<figure style="display:inline-block;margin:4px;text-align:center">'
        f'<img alt="chain of {label}" src="data:image/gif;base64,{_b64(Path(gif).read_bytes())}"'
        f' style="width:260px;max-width:100%;image-rendering:pixelated"/>'
        f'<figcaption style="font-size:80%">{label}</figcaption></figure>'
        for label, gif in items)
    display({"text/html": f'<div class="chains">{cells}</div>', "image/png": _b64(filmstrip_png)},
            raw=True)
    md(caption)
