"""Rule simulate: one call into the package (see scbeta.pipeline.simulate.simulate)."""
from scbeta.pipeline import rule_args, simulate

simulate.simulate(**rule_args(snakemake))  # noqa: F821
