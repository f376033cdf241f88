"""Rule simulate: one call into the package (see scbeta.pipeline.simulate)."""
from scbeta import pipeline

pipeline.simulate(**pipeline.rule_args(snakemake))  # noqa: F821
