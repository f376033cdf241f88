"""Tools on a trained model and its data, in the manner of `scanpy.tl`."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from scbeta.data import counts_matrix
from scbeta.programs import gene_programs

__all__ = ["embedding", "gene_programs"]


def embedding(adata: ad.AnnData, *, seed: int, n_neighbors: int = 15, source: str = "adata") -> ad.AnnData:
    """The UMAP of raw counts (log-normalised counts → PCA → kNN → UMAP), for the figures.

    Returns an AnnData without a matrix: `adata`'s obs, and float32 `obsm["X_umap"]` (2 columns)
    and `obsm["X_pca"]` (up to 50 components). `adata` is left unchanged; `source` names it in the
    error raised when its matrix is not counts.
    """
    import scanpy as sc  # scanpy takes seconds to import; only the embedding needs it

    cells = ad.AnnData(X=counts_matrix(adata, source=source), obs=adata.obs.copy(),
                       var=pd.DataFrame(index=adata.var_names))
    sc.pp.normalize_total(cells)
    sc.pp.log1p(cells)
    sc.pp.pca(cells, n_comps=min(50, cells.n_obs - 1, cells.n_vars - 1), random_state=seed)
    sc.pp.neighbors(cells, n_neighbors=n_neighbors, transformer="sklearn", random_state=seed)
    sc.tl.umap(cells, random_state=seed)
    out = ad.AnnData(obs=adata.obs.copy())
    out.obsm["X_umap"] = cells.obsm["X_umap"].astype(np.float32)
    out.obsm["X_pca"] = cells.obsm["X_pca"].astype(np.float32)
    return out
