"""Rule figure3: one call into the package (see scbeta.pipeline.figures.figure3)."""
from scbeta.pipeline import figures, rule_args

figures.figure3(**rule_args(snakemake))  # noqa: F821
