"""Rule figure2: one call into the package (see scbeta.pipeline.figure2)."""
from scbeta import pipeline

pipeline.figure2(**pipeline.rule_args(snakemake))  # noqa: F821
