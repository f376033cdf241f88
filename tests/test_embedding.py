"""`scbeta.tl.embedding`: the UMAP of raw counts that the figures draw on."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scbeta import tl


def _two_groups(n_per_group: int = 100, n_genes: int = 40, seed: int = 0) -> ad.AnnData:
    """Counts of two cell groups that express disjoint halves of the genes (Poisson rate 20 against 0.5)."""
    rng = np.random.default_rng(seed)
    half = n_genes // 2
    rates = np.full((2 * n_per_group, n_genes), 0.5)
    rates[:n_per_group, :half] = 20.0
    rates[n_per_group:, half:] = 20.0
    obs = pd.DataFrame({"group": ["a"] * n_per_group + ["b"] * n_per_group},
                       index=[f"cell{i}" for i in range(2 * n_per_group)])
    return ad.AnnData(X=rng.poisson(rates).astype(np.float32), obs=obs)


def test_two_separated_groups_stay_apart_on_the_umap():
    adata = _two_groups()
    before = adata.X.copy()
    out = tl.embedding(adata, seed=0, n_neighbors=10)
    umap = out.obsm["X_umap"]
    assert umap.shape == (adata.n_obs, 2) and umap.dtype == np.float32
    assert out.obsm["X_pca"].dtype == np.float32 and out.obsm["X_pca"].shape[0] == adata.n_obs
    pd.testing.assert_frame_equal(out.obs, adata.obs)
    np.testing.assert_array_equal(adata.X, before)  # the input is left as it was
    groups = adata.obs["group"].to_numpy()
    centroids = {g: umap[groups == g].mean(axis=0) for g in ("a", "b")}
    spread = max(np.linalg.norm(umap[groups == g] - centroids[g], axis=1).mean() for g in ("a", "b"))
    assert np.linalg.norm(centroids["a"] - centroids["b"]) > 3 * spread


def test_the_same_seed_gives_the_same_umap():
    adata = _two_groups(n_per_group=40)
    first = tl.embedding(adata, seed=3, n_neighbors=10).obsm["X_umap"]
    np.testing.assert_array_equal(first, tl.embedding(adata, seed=3, n_neighbors=10).obsm["X_umap"])


def test_normalised_values_are_refused_with_the_source_named():
    adata = _two_groups(n_per_group=10)
    adata.X = np.log1p(adata.X)
    with pytest.raises(ValueError, match="counts.h5ad: counts must be integers"):
        tl.embedding(adata, seed=0, n_neighbors=5, source="counts.h5ad")
