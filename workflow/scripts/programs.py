"""Rule programs: one call into the package (see scbeta.pipeline.programs.programs)."""
from scbeta.pipeline import programs, rule_args

programs.programs(**rule_args(snakemake))  # noqa: F821
