"""Rule latent: one call into the package (see scbeta.pipeline.train.latent)."""
from scbeta.pipeline import rule_args, train

train.latent(**rule_args(snakemake))  # noqa: F821
