#!/usr/bin/env bash
# Re-render the committed full study's report from its committed artifacts (no training) into a
# scratch folder, and check it holds every table, figure and GIF. The committed tree is not
# touched: the artifacts are copied first.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
# kept when anything fails: the FAILED line names the executed notebook and log inside it
trap 'status=$?; if [ $status -eq 0 ]; then rm -rf "$scratch"; else echo "kept for a look: $scratch" >&2; fi' EXIT
cp -r reports/full "$scratch/full"
rm -f "$scratch"/full/report.{ipynb,html,pdf}
.venv/bin/vae-notebook notebooks/report.ipynb "$scratch/full/report.ipynb" \
  -p profile full -p reports_dir "$scratch" --label "the committed full study's report"
bash scripts/setup-latex.sh
bash scripts/render_report.sh html "$scratch/full/report.ipynb"
bash scripts/render_report.sh pdf "$scratch/full/report.ipynb"
REPORT_DIR="$scratch/full" .venv/bin/python -m pytest -q tests/report
