"""Rule claims: one call into the package (see scbeta.pipeline.claims)."""
from scbeta import pipeline

pipeline.claims(**pipeline.rule_args(snakemake))  # noqa: F821
