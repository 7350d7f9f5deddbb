"""Training, in one place: ``loop`` (the epochs, validation, checkpoints and exact resume — the
one entry, :func:`vae_report.train.loop.train_models`), ``state`` (a run's config, history and
generator states, and whether a checkpoint may resume it), ``engine`` (the step interface and the one
epoch over it: one model, a seed stack, several parts; the CUDA graph), ``fast_step`` (the
hand-written gradient), ``seed_stack`` (a run's seeds as one stacked model), ``checkpoints`` (the
checkpoint format and the published weights, which the metrics and the explorer read too),
``timing`` (the step timed, for the scripts). Nothing is re-exported here, so a notebook that
reads checkpoints does not depend on the trainer's code."""
