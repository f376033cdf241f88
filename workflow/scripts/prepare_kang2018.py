"""Rule prepare_kang2018: one call into the package (see scbeta.pipeline.data.prepare_kang2018)."""
from scbeta.pipeline import data, rule_args

data.prepare_kang2018(**rule_args(snakemake))  # noqa: F821
