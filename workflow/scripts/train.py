"""Rule train_<dataset>_<group>: one call into the package (see scbeta.pipeline.train_group)."""
from scbeta import pipeline

pipeline.train_group(**pipeline.rule_args(snakemake))  # noqa: F821
