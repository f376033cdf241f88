"""Rule score: one call into the package (see scbeta.pipeline.evaluate.score)."""
from scbeta.pipeline import evaluate, rule_args

evaluate.score(**rule_args(snakemake))  # noqa: F821
