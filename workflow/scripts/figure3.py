"""Rule figure3: one call into the package (see scbeta.pipeline.figure3)."""
from scbeta import pipeline

pipeline.figure3(**pipeline.rule_args(snakemake))  # noqa: F821
