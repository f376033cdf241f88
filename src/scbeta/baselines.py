"""Classical linear factorisations of log-normalised counts, the baselines for the learned latents."""
from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import NMF, PCA, FastICA
from sklearn.exceptions import ConvergenceWarning

from scbeta.registry import BASELINES

METHODS = tuple(BASELINES)
# Iteration limits of the iterative fits (FastICA: scikit-learn's default).
DEFAULT_MAX_ITER = {"ica": 200, "nmf": 500}


class BaselineFit(NamedTuple):
    """A baseline's cells × components embedding, its genes × components loadings, and whether its fit
    converged within its iteration limit (PCA, solved exactly, always does)."""

    embedding: np.ndarray
    loadings: np.ndarray
    converged: bool


def log_normalise(counts: sp.spmatrix) -> sp.csr_matrix:
    """log1p of counts scaled so that every cell sums to the median total count (cells × genes).

    The same as scanpy's `normalize_total()` followed by `log1p()`: the median is over cells with
    a non-zero total, and empty cells stay zero.
    """
    counts = sp.csr_matrix(counts, dtype=np.float64)
    totals = np.asarray(counts.sum(axis=1)).ravel()
    target = np.median(totals[totals > 0])
    scale = np.divide(target, totals, out=np.zeros_like(totals), where=totals > 0)
    normalised = sp.csr_matrix(sp.diags(scale) @ counts)
    normalised.data = np.log1p(normalised.data)
    return normalised


def fit_baseline(method: str, counts: sp.spmatrix, n_components: int, seed: int) -> np.ndarray:
    """Cells × `n_components` embedding of raw counts (cells × genes) by PCA, FastICA or NMF.

    All three see log-normalised counts (`log_normalise`), which are non-negative as NMF requires.
    PCA centres implicitly and stays sparse; FastICA needs a dense matrix. The result depends
    only on the inputs and `seed`.
    """
    return fit_baseline_with_loadings(method, counts, n_components, seed).embedding


def _fit_transform(model, data) -> tuple[np.ndarray, bool]:
    """`model.fit_transform(data)` and whether it converged: scikit-learn's ConvergenceWarning becomes the
    flag instead of a line on stderr; any other warning is passed on."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        embedding = model.fit_transform(data)
    converged = True
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            converged = False
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return embedding, converged


def fit_baseline_with_loadings(method: str, counts: sp.spmatrix, n_components: int, seed: int,
                               max_iter: int | None = None) -> BaselineFit:
    """`fit_baseline`'s embedding, the genes × `n_components` loadings that go with it (PCA's and NMF's
    components, FastICA's mixing matrix: each component's weight on every gene) and whether the fit
    converged within `max_iter` iterations (FastICA and NMF; default `DEFAULT_MAX_ITER`)."""
    if method not in METHODS:
        raise ValueError(f"unknown baseline method {method!r}; expected one of {', '.join(METHODS)}")
    data = log_normalise(counts)
    max_iter = DEFAULT_MAX_ITER.get(method) if max_iter is None else max_iter
    if method == "pca":
        model = PCA(n_components=n_components, svd_solver="arpack", random_state=seed)
    elif method == "ica":
        model, data = (FastICA(n_components=n_components, whiten="unit-variance", max_iter=max_iter,
                               random_state=seed), data.toarray())
    else:
        # nndsvda initialisation is deterministic and suits sparse data better than random starts.
        model = NMF(n_components=n_components, init="nndsvda", max_iter=max_iter, random_state=seed)
    embedding, converged = _fit_transform(model, data)
    loadings = model.mixing_ if method == "ica" else model.components_.T
    return BaselineFit(np.asarray(embedding, dtype=np.float64), np.asarray(loadings, dtype=np.float64), converged)
