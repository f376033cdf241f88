"""Rule summary_figures: one call into the package (see scbeta.pipeline.figures.summary_figures)."""
from scbeta.pipeline import figures, rule_args

figures.summary_figures(**rule_args(snakemake))  # noqa: F821
