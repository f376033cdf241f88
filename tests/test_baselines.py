"""PCA, ICA and NMF baselines on counts with a planted structure."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
import scanpy as sc
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from scbeta.baselines import METHODS, fit_baseline, fit_baseline_with_loadings, log_normalise

N_CELLS, N_GENES = 600, 200


@pytest.fixture(scope="module")
def planted() -> tuple[sp.csr_matrix, np.ndarray]:
    """Poisson counts whose log-rate is a rank-one cell factor × gene loading, and that factor."""
    rng = np.random.default_rng(0)
    factor = rng.normal(size=N_CELLS)
    loading = rng.normal(size=N_GENES)
    size = rng.lognormal(0.0, 0.3, size=N_CELLS)[:, None]  # library size varies, as in real cells
    rate = size * np.exp(1.0 + 0.6 * np.outer(factor, loading))
    return sp.csr_matrix(rng.poisson(rate).astype(np.float32)), factor


def test_log_normalise_matches_scanpy(planted: tuple[sp.csr_matrix, np.ndarray]) -> None:
    counts, _ = planted
    adata = ad.AnnData(counts.astype(np.float64))
    sc.pp.normalize_total(adata)
    sc.pp.log1p(adata)
    assert np.allclose(log_normalise(counts).toarray(), adata.X.toarray())


@pytest.mark.parametrize("method", METHODS)
def test_embedding_has_one_row_per_cell_and_requested_width(planted: tuple[sp.csr_matrix, np.ndarray],
                                                           method: str) -> None:
    embedding = fit_baseline(method, planted[0], n_components=4, seed=0)
    assert embedding.shape == (N_CELLS, 4)
    assert np.all(np.isfinite(embedding))


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_gives_identical_embedding(planted: tuple[sp.csr_matrix, np.ndarray], method: str) -> None:
    first = fit_baseline(method, planted[0], n_components=3, seed=7)
    assert np.array_equal(first, fit_baseline(method, planted[0], n_components=3, seed=7))


def test_first_principal_component_recovers_the_planted_factor(planted: tuple[sp.csr_matrix, np.ndarray]) -> None:
    counts, factor = planted
    embedding = fit_baseline("pca", counts, n_components=3, seed=0)
    assert abs(np.corrcoef(embedding[:, 0], factor)[0, 1]) > 0.95
    assert np.abs([np.corrcoef(embedding[:, k], factor)[0, 1] for k in (1, 2)]).max() < 0.3


@pytest.mark.parametrize("method", ["ica", "nmf"])
def test_components_span_the_planted_factor(planted: tuple[sp.csr_matrix, np.ndarray], method: str) -> None:
    # A Gaussian factor has no preferred ICA rotation and NMF splits it by loading sign, so check
    # the span: R² of the factor regressed on all components.
    counts, factor = planted
    embedding = fit_baseline(method, counts, n_components=3, seed=0)
    design = np.column_stack([np.ones(N_CELLS), embedding])
    residual = factor - design @ np.linalg.lstsq(design, factor, rcond=None)[0]
    assert 1.0 - residual.var() / factor.var() > 0.9


def test_unknown_method_names_the_allowed_ones(planted: tuple[sp.csr_matrix, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="pca, ica, nmf"):
        fit_baseline("umap", planted[0], n_components=2, seed=0)


@pytest.mark.parametrize("method", ["ica", "nmf"])
def test_a_fit_stopped_at_one_iteration_says_it_did_not_converge(planted: tuple[sp.csr_matrix, np.ndarray],
                                                                 method: str, recwarn: pytest.WarningsRecorder) -> None:
    stopped = fit_baseline_with_loadings(method, planted[0], n_components=3, seed=0, max_iter=1)
    assert not stopped.converged
    assert fit_baseline_with_loadings(method, planted[0], n_components=3, seed=0).converged
    # The flag replaces scikit-learn's warning line.
    assert not [w for w in recwarn if issubclass(w.category, ConvergenceWarning)]


def test_pca_always_converges(planted: tuple[sp.csr_matrix, np.ndarray]) -> None:
    fit = fit_baseline_with_loadings("pca", planted[0], n_components=3, seed=0, max_iter=1)
    assert fit.converged and fit.embedding.shape == (N_CELLS, 3) and fit.loadings.shape == (N_GENES, 3)
