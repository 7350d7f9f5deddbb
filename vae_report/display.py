"""Showing tables and figures in a notebook so that both the HTML and the PDF report carry them."""
from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any, Sequence


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def md(text: str) -> None:
    """Show markdown text (rendered in both the HTML and the PDF)."""
    from IPython.display import Markdown, display

    display(Markdown(text))


def show_table(df: Any, caption: str, float_format: str = "{:.2f}", index: bool = True) -> None:
    """Show a DataFrame as an HTML table in the HTML and a LaTeX table in the PDF."""
    from IPython.display import display

    md(caption)
    fmt = (lambda v: float_format.format(v))
    html = df.to_html(float_format=fmt, index=index, na_rep="–", border=0)
    # wide tables shrink to the page width in the PDF instead of running off it
    latex = ("\\begin{adjustbox}{max width=\\linewidth}\n"
             + df.to_latex(float_format=fmt, index=index, na_rep="--", escape=True,
                           multirow=False)       # \multirow needs a package the template lacks
             + "\\end{adjustbox}\n")
    display({"text/html": html, "text/latex": latex, "text/plain": df.to_string()}, raw=True)


def show_figure(fig: Any, path: str | os.PathLike, caption: str, dpi: int = 90) -> None:
    """Save a matplotlib figure as ``path`` (named after the figure) and show it with a caption."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    display({"image/png": _b64(path.read_bytes())}, raw=True)
    md(caption)


def show_animations(items: Sequence[tuple[str, Path]], filmstrip_png: bytes, caption: str) -> None:
    """GIFs for the HTML (``<img>`` with data URIs: nbconvert's HTML drops ``image/gif`` outputs)
    and a PNG filmstrip in the same output for the PDF, which cannot play them."""
    from IPython.display import display

    cells = "".join(
        f'<figure style="display:inline-block;margin:4px;text-align:center">'
        f'<img alt="chain of {label}" src="data:image/gif;base64,{_b64(Path(gif).read_bytes())}"'
        f' style="width:180px;image-rendering:pixelated"/>'
        f'<figcaption style="font-size:80%">{label}</figcaption></figure>'
        for label, gif in items)
    display({"text/html": f'<div class="chains">{cells}</div>', "image/png": _b64(filmstrip_png)},
            raw=True)
    md(caption)
