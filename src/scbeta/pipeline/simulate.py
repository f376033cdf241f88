"""The step of `workflow/rules/simulate.smk`: a simulated count matrix."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scbeta._io import write_h5ad
from scbeta.pipeline import logged, logger


@logged
def simulate(*, counts: str, params: Mapping[str, Any]) -> None:
    """Simulate a count matrix with `scbeta.simulate.simulate_counts(**params)`."""
    from scbeta.simulate import simulate_counts

    adata = simulate_counts(**params)
    logger.info("simulated %d cells × %d genes, %.1f%% zeros", adata.n_obs, adata.n_vars,
                100 * (1 - adata.X.nnz / (adata.n_obs * adata.n_vars)))
    write_h5ad(adata, counts, {"simulate": dict(params)})
