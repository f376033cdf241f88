"""Rule download_kang2018: one call into the package (see scbeta.pipeline.download_kang2018)."""
from scbeta import pipeline

pipeline.download_kang2018(**pipeline.rule_args(snakemake))  # noqa: F821
