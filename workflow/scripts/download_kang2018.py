"""Rule download_kang2018: one call into the package (see scbeta.pipeline.data.download_kang2018)."""
from scbeta.pipeline import data, rule_args

data.download_kang2018(**rule_args(snakemake))  # noqa: F821
