#!/usr/bin/env bash
# The PDF goes through nbconvert's LaTeX route, which needs xelatex (pandoc is pinned in the venv:
# requirements.txt's pypandoc_binary); the report's checks read its pages with pdftoppm
# (poppler-utils). Install the Debian packages when they are missing and we may (root with
# apt-get); otherwise say what to install.
set -euo pipefail
# The report's PDF template sets DejaVu fonts (for Greek letters and arrows).
have_fonts() { command -v fc-list >/dev/null && fc-list | grep "DejaVu Serif" >/dev/null; }
command -v xelatex >/dev/null && have_fonts && command -v pdftoppm >/dev/null && exit 0
PKGS="texlive-xetex texlive-fonts-recommended texlive-plain-generic fonts-dejavu-core poppler-utils"
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "== installing $PKGS for the PDF (about 2 minutes)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
else
  echo "error: the PDF needs xelatex and the DejaVu fonts, its checks pdftoppm; some are missing." >&2
  echo "  Debian/Ubuntu: sudo apt-get install $PKGS" >&2
  echo "  elsewhere: install a TeX distribution with xelatex" >&2
  exit 1
fi
