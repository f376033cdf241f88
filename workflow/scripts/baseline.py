"""Rule baseline: one call into the package (see scbeta.pipeline.baseline)."""
from scbeta import pipeline

pipeline.baseline(**pipeline.rule_args(snakemake))  # noqa: F821
