"""How full each page of a PDF is: the lowest ink inside the text block, as a share of its height.

    .venv/bin/python scripts/pdf_page_fill.py reports/full/report.pdf [--margin-in 0.8]

A measurement for the report's layout (half-empty pages come from figures or tables that did not
fit); it needs ``pdftoppm`` (Debian: poppler-utils). Prints one line per page and the pages below
75 % (the last page is not counted: a document ends where it ends).
"""
from __future__ import annotations

import argparse
import glob
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image


def page_fill(pdf: str, margin_in: float = 0.8, page_in: float = 11.0) -> list[int]:
    """Per page, how far down the text block (between the top and bottom margins) ink reaches, %."""
    if shutil.which("pdftoppm") is None:
        sys.exit("error: pdftoppm is missing; install poppler-utils (Debian: apt-get install poppler-utils)")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-r", "30", "-png", pdf, f"{tmp}/p"], check=True)
        fills = []
        for png in sorted(glob.glob(f"{tmp}/p-*.png")):
            pixels = np.asarray(Image.open(png).convert("L"))
            top = int(pixels.shape[0] * margin_in / page_in)
            bottom = pixels.shape[0] - top
            inked = np.flatnonzero((pixels[top:bottom] < 200).any(axis=1))
            fills.append(round(100 * inked.max() / (bottom - top)) if inked.size else 0)
    return fills


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pdf")
    ap.add_argument("--margin-in", type=float, default=0.8, help="top/bottom margin (inches)")
    args = ap.parse_args()
    fills = page_fill(args.pdf, args.margin_in)
    print(f"{len(fills)} pages; fill %: {fills}")
    print("pages below 75 % (not the last):", [i + 1 for i, f in enumerate(fills[:-1]) if f < 75])


if __name__ == "__main__":
    main()
