"""Rule train: one call into the package (see scbeta.pipeline.train)."""
from scbeta import pipeline

pipeline.train(**pipeline.rule_args(snakemake))  # noqa: F821
