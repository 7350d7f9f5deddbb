#!/usr/bin/env bash
# Run one notebook with papermill and print one progress line when it starts and when it ends.
#   run_notebook.sh STEP PROFILE RUN SEED ARCH
#       one cell of the study -> reports/PROFILE/RUN/seed-SEED/ARCH/STEP.ipynb
#   run_notebook.sh 00-classifier PROFILE   the digit classifier  -> reports/PROFILE/classifier/
#   run_notebook.sh report PROFILE          the report notebook   -> reports/PROFILE/report.ipynb
# The executed notebook only takes its final name when papermill succeeds, so `make` never
# mistakes a failed run for a finished one; a failed run is kept as STEP.failed.ipynb.
# papermill runs through scripts/papermill_lean.py: the same command line, ≈ 1 s faster to start.
set -euo pipefail
step=$1 profile=$2 run=${3:-} seed=${4:-} arch=${5:-}
cd "$(dirname "$0")/.."
if [ -n "$run" ]; then
  out=reports/$profile/$run/seed-$seed/$arch label="$profile/$run/seed-$seed/$arch $step"
  args=(-f params/base.yaml -f "params/runs/$run.yaml" -f "params/profiles/$profile.yaml"
        -p seed "$seed" -p arch "$arch")
elif [ "$step" = 00-classifier ]; then
  out=reports/$profile/classifier label="$profile classifier"
  args=(-f params/base.yaml -f "params/profiles/$profile.yaml")
else
  out=reports/$profile label="$profile report"
  args=(-p profile "$profile")
fi
mkdir -p "$out"
log=$out/$step.log partial=$out/.$step.partial.ipynb
start=$(date +%s)
echo "[$(date +%H:%M:%S)] start $label"
if .venv/bin/python scripts/papermill_lean.py "notebooks/$step.ipynb" "$partial" "${args[@]}" -k vae-report \
     --no-progress-bar --log-output >"$log" 2>&1; then
  mv "$partial" "$out/$step.ipynb"
  rm -f "$out/$step.failed.ipynb"
  echo "[$(date +%H:%M:%S)] done  $label in $(( $(date +%s) - start )) s"
else
  mv -f "$partial" "$out/$step.failed.ipynb" 2>/dev/null || true
  echo "[$(date +%H:%M:%S)] FAILED $label after $(( $(date +%s) - start )) s" >&2
  echo "  executed notebook: $out/$step.failed.ipynb   log: $log; its end:" >&2
  grep -v '^\s*$' "$log" | tail -n 25 | sed 's/^/  | /' >&2
  exit 1
fi
