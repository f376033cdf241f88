"""Rule collect: one call into the package (see scbeta.pipeline.evaluate.collect)."""
from scbeta.pipeline import evaluate, rule_args

evaluate.collect(**rule_args(snakemake))  # noqa: F821
