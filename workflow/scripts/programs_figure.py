"""Rule programs_figure: one call into the package (see scbeta.pipeline.programs_figure)."""
from scbeta import pipeline

pipeline.programs_figure(**pipeline.rule_args(snakemake))  # noqa: F821
