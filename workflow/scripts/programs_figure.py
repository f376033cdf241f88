"""Rule programs_figure: one call into the package (see scbeta.pipeline.programs.programs_figure)."""
from scbeta.pipeline import programs, rule_args

programs.programs_figure(**rule_args(snakemake))  # noqa: F821
