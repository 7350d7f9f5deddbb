#!/usr/bin/env bash
# A slice of the quick profile — both runs, two architectures, through the report — run by the
# Slurm executor on a one-node cluster on this machine, and its numbers compared with the same
# cells of the local quick run (reports/quick, made first by `make test-report`): same seeds,
# same numbers. The slice runs as its own profile, `slurm-slice` (a copy of quick), so that it
# cannot reuse a single local output.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! bash .ci/start-local-slurm.sh; then
  echo "== SKIPPED the Slurm slice: a local Slurm could not be started here (see above)" >&2
  exit 0
fi
sed 's/^profile: quick/profile: slurm-slice/' params/profiles/quick.yaml > params/profiles/slurm-slice.yaml
trap 'rm -f params/profiles/slurm-slice.yaml' EXIT
rm -rf reports/slurm-slice checkpoints/slurm-slice
# no slurmdbd here: job states come from squeue (MinJobAge=600 keeps finished jobs listed), and
# no accounts exist
make report PROFILE=slurm-slice ARCHS="vanilla deep-128" EXECUTOR=slurm \
  SNAKEMAKE_ARGS="--slurm-status-command squeue --slurm-no-account --slurm-init-seconds-before-status-checks 5 --seconds-between-status-checks 5"
echo "== Slurm ran $(squeue -h --states=all | wc -l) jobs; comparing the slice with the local quick run"
.venv/bin/python scripts/compare_reports.py reports/slurm-slice reports/quick
