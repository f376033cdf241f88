"""Rule train_<dataset>_<group>: one call into the package (see scbeta.pipeline.train.train_group)."""
from scbeta.pipeline import rule_args, train

train.train_group(**rule_args(snakemake))  # noqa: F821
