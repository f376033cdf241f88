"""Rule summary_figures: one call into the package (see scbeta.pipeline.summary_figures)."""
from scbeta import pipeline

pipeline.summary_figures(**pipeline.rule_args(snakemake))  # noqa: F821
