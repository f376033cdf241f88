"""Count matrices: validation and access to the raw counts of an AnnData."""
from __future__ import annotations

import anndata as ad
import numpy as np
import scipy.sparse as sp


def counts_matrix(adata: ad.AnnData, layer: str | None = None, source: str = "adata") -> sp.csr_matrix:
    """Return the raw counts (cells × genes) as float32 CSR, after checking they are counts.

    Raises ValueError naming `source` (a file or dataset name) if the matrix is empty, holds
    negative, non-integer or non-finite values, or `layer` does not exist.
    """
    if layer is not None and layer not in adata.layers:
        raise ValueError(f"{source}: layer {layer!r} not found; available layers: {sorted(adata.layers)}")
    matrix = adata.X if layer is None else adata.layers[layer]
    if matrix is None or adata.n_obs == 0 or adata.n_vars == 0:
        raise ValueError(f"{source}: the count matrix is empty ({adata.n_obs} cells × {adata.n_vars} genes)")
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    values = matrix.data
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{source}: counts must be finite; found NaN or Inf")
    if values.size and values.min() < 0:
        raise ValueError(f"{source}: counts must be non-negative; found {values.min():g}")
    if not np.array_equal(values, np.round(values)):
        bad = values[values != np.round(values)][0]
        raise ValueError(f"{source}: counts must be integers (raw UMI counts, not normalised values); found {bad:g}")
    matrix.eliminate_zeros()
    return matrix
