"""Rule import_h5ad: one call into the package (see scbeta.pipeline.data.import_h5ad)."""
from scbeta.pipeline import data, rule_args

data.import_h5ad(**rule_args(snakemake))  # noqa: F821
