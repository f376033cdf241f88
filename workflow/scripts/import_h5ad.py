"""Rule import_h5ad: one call into the package (see scbeta.pipeline.import_h5ad)."""
from scbeta import pipeline

pipeline.import_h5ad(**pipeline.rule_args(snakemake))  # noqa: F821
