"""Rule collect: one call into the package (see scbeta.pipeline.collect)."""
from scbeta import pipeline

pipeline.collect(**pipeline.rule_args(snakemake))  # noqa: F821
