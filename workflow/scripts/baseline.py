"""Rule baseline: one call into the package (see scbeta.pipeline.train.baseline)."""
from scbeta.pipeline import rule_args, train

train.baseline(**rule_args(snakemake))  # noqa: F821
