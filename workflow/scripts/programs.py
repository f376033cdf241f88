"""Rule programs: one call into the package (see scbeta.pipeline.programs)."""
from scbeta import pipeline

pipeline.programs(**pipeline.rule_args(snakemake))  # noqa: F821
