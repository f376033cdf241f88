"""Rule provenance: one call into the package (see scbeta.pipeline.provenance)."""
from scbeta import pipeline

pipeline.provenance(**pipeline.rule_args(snakemake))  # noqa: F821
