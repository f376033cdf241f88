"""Rule embed: one call into the package (see scbeta.pipeline.embed)."""
from scbeta import pipeline

pipeline.embed(**pipeline.rule_args(snakemake))  # noqa: F821
