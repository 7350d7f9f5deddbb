#!/usr/bin/env bash
# Render the executed report notebook without its code: html (stands alone offline: images and
# GIFs are embedded as data and the template loads no scripts from a CDN) or pdf (xelatex; cells
# tagged html-only, such as the title heading LaTeX sets itself, are left out).
set -euo pipefail
fmt=$1 nb=$2
cd "$(dirname "$0")/.."
start=$(date +%s)
# nbconvert turns markdown into LaTeX with pandoc: the pinned one of the venv, as for the captions
PATH="$(.venv/bin/python -c 'from vae_report.report.display import pinned_pandoc_dir; print(pinned_pandoc_dir())'):$PATH"
export PATH
case $fmt in
  html) .venv/bin/jupyter nbconvert --to html --no-input --embed-images --template report \
          --TemplateExporter.extra_template_basedirs=notebooks/templates "$nb" --log-level WARN ;;
  pdf)  .venv/bin/jupyter nbconvert --to pdf --no-input --template report-pdf \
          --TagRemovePreprocessor.enabled=True --TagRemovePreprocessor.remove_cell_tags=html-only \
          --TemplateExporter.extra_template_basedirs=notebooks/templates "$nb" --log-level WARN ;;
  *) echo "usage: render_report.sh html|pdf NOTEBOOK" >&2; exit 2 ;;
esac
echo "[$(date +%H:%M:%S)] rendered ${nb%.ipynb}.$fmt in $(( $(date +%s) - start )) s"
