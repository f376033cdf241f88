"""Rule score: one call into the package (see scbeta.pipeline.score)."""
from scbeta import pipeline

pipeline.score(**pipeline.rule_args(snakemake))  # noqa: F821
