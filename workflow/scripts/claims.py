"""Rule claims: one call into the package (see scbeta.pipeline.report.claims)."""
from scbeta.pipeline import report, rule_args

report.claims(**rule_args(snakemake))  # noqa: F821
