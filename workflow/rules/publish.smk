# The weights published with the study (float16; committed for the full profile): the first seed
# of each main run, every architecture, and the classifier — what notebooks/explore.ipynb opens
# in a clone that has no checkpoints (the variants' stay out: the tracked tree's budget).
MODELS = [PUBLISHED.format(run=r, seed=SEEDS[r][0], arch=a)
          for r in RUNS if r in MAIN_RUNS for a in RUN_ARCHS[r]]
MODELS.append(PUBLISHED_CLASSIFIER)


rule models:
    input: MODELS


rule publish_model:
    input: CHECKPOINT
    output: PUBLISHED
    shell: "{PUBLISH_CMD:q} {input:q} {output:q}"


rule publish_classifier:
    input: WEIGHTS
    output: PUBLISHED_CLASSIFIER
    shell: "{PUBLISH_CMD:q} --classifier {input:q} {output:q}"
