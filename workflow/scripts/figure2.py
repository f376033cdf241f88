"""Rule figure2: one call into the package (see scbeta.pipeline.figures.figure2)."""
from scbeta.pipeline import figures, rule_args

figures.figure2(**rule_args(snakemake))  # noqa: F821
