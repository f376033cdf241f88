"""Rule embed: one call into the package (see scbeta.pipeline.evaluate.embed)."""
from scbeta.pipeline import evaluate, rule_args

evaluate.embed(**rule_args(snakemake))  # noqa: F821
