"""Showing tables and figures in a notebook so that both the HTML and the PDF report carry them."""
from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class TablePart:
    """A table of the report: the frame, its caption, the formats of its float columns
    (:func:`show_table`) and a markdown note shown below it ("" for none)."""

    df: Any
    caption: str
    float_format: str | Mapping[Any, str] = "{:.2f}"
    note: str = ""
    #: a table of sentences: shown with wrapping columns of these widths (fractions of the line,
    #: :func:`show_claims`) instead of as a table of numbers
    wrap: Sequence[float] | None = None


@dataclass
class FigurePart:
    """A figure of the report: the matplotlib figure, the file name it is saved as in the
    report's figures folder, its caption and a markdown note shown below it."""

    fig: Any
    name: str
    caption: str
    note: str = ""


def show(part: TablePart | FigurePart | None, figures_dir: str | os.PathLike = ".") -> None:
    """Show a table or a figure of the report (nothing for ``None``), then its note."""
    if part is None:
        return
    if isinstance(part, FigurePart):
        show_figure(part.fig, Path(figures_dir) / part.name, part.caption)
    elif part.wrap:
        show_claims(part.df.reset_index() if part.df.index.name else part.df, part.caption,
                    widths=part.wrap)
    else:
        show_table(part.df, part.caption, part.float_format)
    if part.note:
        md(part.note)


def md(text: str) -> None:
    """Show markdown text (rendered in both the HTML and the PDF)."""
    from IPython.display import Markdown, display

    display(Markdown(text))


#: Lines of a table (head and first rows) that must fit below its caption on the PDF page, else
#: both move to the next page (``needspace``): a caption is never left alone at a page's foot.
PDF_LINES_WITH_CAPTION = 6


def _caption(text: str, keep_lines: int = PDF_LINES_WITH_CAPTION, latex: bool = True) -> None:
    """A table's caption: markdown in the HTML; in the PDF the same words, kept on one page with
    the first ``keep_lines`` lines of what follows (none with ``latex=False``: a landscape
    table carries its caption on its own page)."""
    from IPython.display import display

    caption_lines = -(-len(text) // PDF_LINE_CHARACTERS)           # ceil
    latex = (rf"\par\Needspace{{{caption_lines + keep_lines}\baselineskip}}" + "\n\\noindent "
             + markdown_to_latex(text) + "\n\\nopagebreak\n") if latex else ""
    display({"text/markdown": text, "text/latex": latex}, raw=True)


def pinned_pandoc_dir() -> Path:
    """The folder of the pinned pandoc binary (requirements.txt: ``pypandoc_binary`` ships it in
    ``pypandoc/files/``); found without importing pypandoc."""
    import importlib.util

    spec = importlib.util.find_spec("pypandoc")
    folder = Path(spec.origin).parent / "files" if spec and spec.origin else None
    if folder is None or not (folder / "pandoc").is_file():
        raise RuntimeError("pandoc is missing: the report's captions need the pinned "
                           "pypandoc_binary of requirements.txt; run `make setup` (or "
                           "`pip install -r requirements.txt`)")
    return folder


def use_pinned_pandoc() -> None:
    """Put the pinned pandoc first on ``PATH``, where nbconvert looks it up. A fresh machine has
    no system pandoc, and one of another version would write other LaTeX; so every caption and
    the PDF (scripts/render_report.sh) go through this one."""
    folder = str(pinned_pandoc_dir())
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != folder:
        os.environ["PATH"] = folder + os.pathsep + path


def markdown_to_latex(text: str) -> str:
    """A caption's markdown as LaTeX by nbconvert's own filter (pandoc): ``**bold**``,
    ``*italic*`` and `` `code` `` become ``\\textbf``, ``\\emph`` and ``\\texttt``, every
    LaTeX special character is escaped."""
    from nbconvert.filters.markdown import markdown2latex

    use_pinned_pandoc()
    return markdown2latex(text).strip()


#: The LaTeX sizes a table may take in the PDF (11 pt article: 11, 10, 9, 8 pt — never below
#: 7 pt) and the characters of a row each fits on the portrait text width (6.9 in; DejaVu Serif
#: ≈ 0.55 em a character, each column's spacing counted as 2 characters).
PDF_TABLE_SIZES: tuple[tuple[str, int], ...] = (("normalsize", 80), ("small", 88),
                                                 ("footnotesize", 98), ("scriptsize", 110))
#: How much wider a landscape page's text is (9.4 in against 6.9 in).
PDF_LANDSCAPE = 1.36
#: Characters a row may take at all: landscape at the smallest size. A wider table is a design
#: error of its cell (fewer or narrower columns, or transposed), reported as one.
PDF_ROW_CHARACTERS = int(PDF_TABLE_SIZES[-1][1] * PDF_LANDSCAPE)
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
    carry the decimals its quantity has. The PDF keeps every table whole — one ``longtable`` that
    may run over pages, its header words wrapping — at the largest size from 11 to 8 pt that
    fits the page (:func:`pdf_layout`), on a landscape page with its caption when only that fits;
    numbers are right-aligned, text left-aligned.
    """
    from IPython.display import display

    shown = formatted(df, float_format)
    size, landscape = pdf_layout(shown, index)
    # a table of up to 25 rows starts on a page that holds it whole (no "continued" break)
    rows = len(shown) + _header_lines(shown, index) + 3 if len(shown) <= 25 else PDF_LINES_WITH_CAPTION
    _caption(caption, keep_lines=rows, latex=not landscape)
    # without the index's name: to_html gives it a header row of its own ("arch" over nothing)
    html_table = shown.rename_axis(index=[None] * shown.index.nlevels).to_html(
        index=index, na_rep="–", border=0)
    latex = _latex_table(shown, index, size)
    if landscape:
        latex = ("\\begin{landscape}\n\\noindent " + markdown_to_latex(caption)
                 + "\n\\nopagebreak\n" + latex + "\\end{landscape}\n")
    display({"text/html": html_table, "text/latex": latex, "text/plain": shown.to_string()},
            raw=True)


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


def _header_parts(header: Any) -> tuple[Any, ...]:
    """A column's header as one label per column level (a MultiIndex column is a tuple)."""
    return header if isinstance(header, tuple) else (header,)


def _widths(df: Any, index: bool) -> tuple[int, list[int]]:
    """Characters the index and each column of ``df`` (formatted) take in the PDF, spacing
    included: a column is as wide as its longest value or its header's longest word (headers
    wrap)."""
    def header_word(header: Any) -> int:
        return max(len(w) for h in _header_parts(header) for w in (str(h).split() or [""]))
    def width(values: Any, header: Any) -> int:
        return max([header_word(header), 1] + [len(str(v)) for v in values]) + 2
    index_width = width(df.index, df.index.name or "") if index else 0
    return index_width, [width(df[c], c) for c in df.columns]


def _header_lines(df: Any, index: bool) -> int:
    """Lines ``df``'s header may take in the PDF: per column level the most words of one label
    (a column is as wide as its longest header word, so each word may wrap onto a line of its
    own), and a line for the index's names when it has any. Counting only one line per header
    split a 7-row table with two-word headers over two pages."""
    labels = [_header_parts(c) for c in df.columns]
    words = sum(max(len(str(label[level]).split()) or 1 for label in labels)
                for level in range(df.columns.nlevels))
    return words + int(index and any(name is not None for name in df.index.names))


def pdf_layout(df: Any, index: bool = True) -> tuple[str, bool]:
    """The LaTeX size and orientation that keep ``df`` (formatted) whole in the PDF: the
    largest size of :data:`PDF_TABLE_SIZES` whose row fits the portrait page, else the largest
    that fits a landscape page. A ValueError when even 8 pt landscape is too narrow."""
    index_width, widths = _widths(df, index)
    row = index_width + sum(widths)
    for landscape in (False, True):
        for size, limit in PDF_TABLE_SIZES:
            if row <= limit * (PDF_LANDSCAPE if landscape else 1):
                return size, landscape
    raise ValueError(f"a table of {row} characters a row cannot be shown whole in the PDF "
                     f"(at most {PDF_ROW_CHARACTERS} at 8 pt on a landscape page): give it fewer "
                     f"or narrower columns, or transpose it; its columns: {list(df.columns)}")


def _alignment(df: Any, index: bool) -> str:
    """A LaTeX column spec: the index levels left; each column a paragraph column as wide as
    :func:`_widths` says (so a long header wraps), right-aligned when all of it reads as a
    number, else left-aligned."""
    def numeric(values: Any) -> bool:
        return all(isinstance(v, (int, float)) and not isinstance(v, bool)
                   or _NUMERIC_TEXT.match(str(v)) for v in values)
    _, widths = _widths(df, index)
    levels = "l" * df.index.nlevels if index else ""
    return levels + "".join(
        (r">{\raggedleft\arraybackslash}" if numeric(df[c]) else r">{\raggedright\arraybackslash}")
        + f"p{{{0.55 * (w - 2):.1f}em}}" for c, w in zip(df.columns, widths))


def _latex_table(df: Any, index: bool, size: str) -> str:
    """``df`` (formatted) as one LaTeX longtable at ``size``."""
    table = df.to_latex(index=index, na_rep="--", escape=True, multirow=False,
                        longtable=True,                   # \multirow would need a package
                        column_format=_alignment(df, index))
    return table if size == "normalsize" else "{\\" + size + "\n" + table + "}\n"


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
    _grey_if_grey(path)
    data = path.read_bytes()
    img = (f'<img alt="{html.escape(alt or _alt(caption))}" src="data:image/png;base64,{_b64(data)}" '
           f'style="width:{_png_width(data) // 2}px;max-width:100%;height:auto"/>')
    display({"text/html": img, "image/png": _b64(data), "text/latex": _pdf_figure(path, caption)},
            raw=True)
    _html_only_caption(caption)


def _grey_if_grey(path: Path) -> None:
    """Rewrite a PNG without colour (digit grids, filmstrips: every pixel R = G = B, opaque) as
    8-bit greyscale: a quarter of matplotlib's RGBA bytes, the same picture. The HTML embeds
    every figure, and the committed report counts against the tracked tree's 48 MiB."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        rgba = np.asarray(image.convert("RGBA"))
    if (rgba[..., 3] == 255).all() and (rgba[..., 0] == rgba[..., 1]).all() \
            and (rgba[..., 1] == rgba[..., 2]).all():
        Image.fromarray(rgba[..., 0]).save(path, optimize=True)


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


def _verdict_colour(text: str) -> str:
    """The background of a verdict cell: by the verdict its text starts with."""
    return next((c for v, c in sorted(VERDICT_COLOURS.items(), key=lambda x: -len(x[0]))
                 if text.startswith(v)), "#fff")


def show_claims(df: Any, caption: str, widths: Sequence[float] | None = None,
                collapsed: str = "") -> None:
    """A claims table: left-aligned text, the ``verdict`` column on a coloured cell; on a phone
    each row a card (cells carry their column's label). ``collapsed``: the HTML shows the table
    inside a ``<details>`` element with this summary (an appendix, opened on demand). In the PDF
    a ``longtable`` with wrapping columns of ``widths`` (fractions of the line)."""
    from IPython.display import display

    _caption(caption)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    labels = [html.escape(str(c), quote=True) for c in df.columns]   # each cell's label on a phone
    for values in df.itertuples(index=False):
        cells = []
        for column, label, v in zip(df.columns, labels, values):
            if column == "verdict":
                cells.append(f'<td class="verdict" data-label="{label}" style="background:'
                             f'{_verdict_colour(str(v))}">{html.escape(str(v))}</td>')
            else:
                cells.append(f'<td data-label="{label}">{html.escape(str(v))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    table = (f'<table class="claims" style="text-align:left"><thead><tr>{head}</tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table>')
    if collapsed:
        table = f"<details><summary>{html.escape(collapsed)}</summary>{table}</details>"
    widths = list(widths or [0.9 / len(df.columns)] * len(df.columns))
    spec = "".join(rf">{{\raggedright\arraybackslash}}p{{{w}\linewidth}}" for w in widths)
    row_end = "\\\\\\hline\n"                     # \\ \hline: end of row, rule below it
    body = row_end.join(" & ".join(_latex_escape(str(v)) for v in values)
                        for values in df.itertuples(index=False))
    header = " & ".join(rf"\textbf{{{_latex_escape(str(c))}}}" for c in df.columns)
    latex = (r"{\footnotesize" + "\n"
             + rf"\begin{{longtable}}{{{spec}}}\hline" + "\n" + header + "\\\\\\hline\\endhead\n"
             + body + row_end + "\\end{longtable}}\n")
    display({"text/html": table, "text/latex": latex, "text/plain": df.to_string()}, raw=True)


def _latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped: nbconvert's own filter, the one its
    LaTeX template applies to markdown cells."""
    from nbconvert.filters.latex import escape_latex

    return escape_latex(text)


def show_contents(sections: Sequence[tuple[str, str]]) -> None:
    """A linked table of contents: ``sections`` as (title, anchor id) in the HTML; LaTeX's own
    ``\\tableofcontents`` in the PDF."""
    from IPython.display import display

    items = "".join(f'<li><a href="#{anchor}">{html.escape(title)}</a></li>'
                    for title, anchor in sections)
    display({"text/html": f'<nav class="toc"><p><b>Contents</b></p><ol>{items}</ol></nav>',
             "text/latex": "\\tableofcontents\n",
             "text/plain": "\n".join(title for title, _ in sections)}, raw=True)


def show_animations(items: Sequence[tuple[str, Path]], filmstrip: FigurePart,
                    figures_dir: str | os.PathLike) -> None:
    """GIFs for the HTML (``<img>`` with data URIs: nbconvert's HTML drops ``image/gif`` outputs)
    and, for the PDF, which cannot play them, the ``filmstrip`` figure saved in the report's
    figures folder as a floating figure with its caption."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    path = Path(figures_dir) / filmstrip.name
    path.parent.mkdir(parents=True, exist_ok=True)
    filmstrip.fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(filmstrip.fig)
    caption = filmstrip.caption
    cells = "".join(
        f'<figure style="display:inline-block;margin:4px;text-align:center">'
        f'<img alt="chain of {label}" src="data:image/gif;base64,{_b64(Path(gif).read_bytes())}"'
        f' style="width:260px;max-width:100%;image-rendering:pixelated"/>'
        f'<figcaption style="font-size:80%">{label}</figcaption></figure>'
        for label, gif in items)
    display({"text/html": f'<div class="chains">{cells}</div>',
             "image/png": _b64(path.read_bytes()),
             "text/latex": _pdf_figure(path, caption)}, raw=True)
    _html_only_caption(caption)
