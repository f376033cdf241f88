"""Rule provenance: one call into the package (see scbeta.pipeline.report.provenance)."""
from scbeta.pipeline import report, rule_args

report.provenance(**rule_args(snakemake))  # noqa: F821
