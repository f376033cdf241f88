"""Rule latent: one call into the package (see scbeta.pipeline.latent)."""
from scbeta import pipeline

pipeline.latent(**pipeline.rule_args(snakemake))  # noqa: F821
