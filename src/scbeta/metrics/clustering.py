"""How well a latent representation separates known cell identities.

`best_ari` clusters the latent space (kNN graph + Leiden) and scores the clusters against the
labels; `identity_accuracy` asks, per identity, how well one latent dimension alone tells it apart.
"""
from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.model_selection import StratifiedKFold

from scbeta.registry import DEFAULT_RESOLUTIONS


def _as_inputs(latent: np.ndarray, labels: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Latent as a finite float matrix (cells × dims) and labels as strings; checks shapes and gaps."""
    latent = np.asarray(latent, dtype=np.float64)
    if latent.ndim == 1:
        latent = latent[:, None]
    labels = pd.Series(np.asarray(labels, dtype=object))
    if latent.ndim != 2 or latent.shape[0] != len(labels):
        raise ValueError(f"latent has shape {latent.shape} but there are {len(labels)} labels")
    if not np.all(np.isfinite(latent)):
        raise ValueError("latent holds NaN or Inf")
    if labels.isna().any():
        raise ValueError(f"{int(labels.isna().sum())} labels are missing")
    return latent, labels.astype(str).to_numpy()


def best_ari(latent: np.ndarray, labels: Sequence,
             resolutions: Sequence[float] = DEFAULT_RESOLUTIONS,
             n_neighbors: int = 15, seed: int = 0, neighbors_method: str = "umap") -> dict[str, float]:
    """Best adjusted Rand index of Leiden clusters of `latent` (cells × dims) against `labels`.

    One kNN graph (`n_neighbors`, Euclidean, exact) is built and clustered with Leiden at each
    resolution. Returns `ari` (the best), `resolution` (the lowest reaching it) and `nmi` (the
    normalised mutual information at that resolution). `neighbors_method` weighs the graph's
    edges as `scanpy.pp.neighbors` does: "umap" (scanpy's default) or "gauss" (a Gaussian
    kernel; no numba compilation, so several seconds faster in a fresh process).
    """
    import scanpy as sc  # slow to import; only this metric needs it

    latent, labels = _as_inputs(latent, labels)
    if not resolutions:
        raise ValueError("need at least one resolution")
    if neighbors_method not in ("umap", "gauss"):
        raise ValueError(f"neighbors_method must be 'umap' or 'gauss', got {neighbors_method!r}")
    cells = ad.AnnData(obs=pd.DataFrame(index=pd.RangeIndex(len(labels)).astype(str)),
                       obsm={"X_latent": latent.astype(np.float32)})
    # The default pynndescent transformer breaks above ~8,000 cells with current scipy sparse
    # arrays; sklearn's exact search is robust and fast enough for low-dimensional latents.
    sc.pp.neighbors(cells, use_rep="X_latent", n_neighbors=n_neighbors, method=neighbors_method,
                    transformer="sklearn", random_state=seed)
    best: dict[str, float] = {"ari": -np.inf, "nmi": np.nan, "resolution": np.nan}
    for resolution in resolutions:
        sc.tl.leiden(cells, resolution=resolution, flavor="igraph", n_iterations=2, directed=False,
                     random_state=seed, key_added="leiden")
        clusters = cells.obs["leiden"].to_numpy()
        ari = adjusted_rand_score(labels, clusters)
        if ari > best["ari"]:
            best = {"ari": float(ari), "nmi": float(normalized_mutual_info_score(labels, clusters)),
                    "resolution": float(resolution)}
    return best


def _fit_stumps(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of `x` (cells × dims), the threshold and sign maximising balanced accuracy on `y`.

    The rule predicts `y` where sign * (x - threshold) > 0. Thresholds fall midway between
    distinct sorted values, so ties are never split.
    """
    n, n_dims = x.shape
    order = np.argsort(x, axis=0, kind="stable")
    sorted_x = np.take_along_axis(x, order, axis=0)
    sorted_y = y[order]
    n_pos = y.sum()
    n_neg = n - n_pos
    # Cutting after row i: rows 0..i predicted negative, the rest positive.
    below_pos = np.cumsum(sorted_y, axis=0)[:-1]
    below_neg = np.arange(1, n)[:, None] - below_pos
    balanced = 0.5 * ((n_pos - below_pos) / n_pos + below_neg / n_neg)
    balanced[sorted_x[1:] == sorted_x[:-1]] = 0.5     # no cut between equal values
    flipped = balanced < 0.5
    score = np.where(flipped, 1.0 - balanced, balanced)
    cut = np.argmax(score, axis=0)
    columns = np.arange(n_dims)
    thresholds = 0.5 * (sorted_x[cut, columns] + sorted_x[cut + 1, columns])
    signs = np.where(flipped[cut, columns], -1.0, 1.0)
    return thresholds, signs


def _balanced_accuracy(predicted: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Balanced accuracy of each column of boolean `predicted` (cells × dims) against boolean `y`."""
    return 0.5 * (predicted[y].mean(axis=0) + (~predicted[~y]).mean(axis=0))


def _cv_stump_scores(latent: np.ndarray, y: np.ndarray, n_splits: int, seed: int) -> np.ndarray:
    """Per dimension, the mean test-fold balanced accuracy of a one-dimension threshold rule."""
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    scores = np.zeros(latent.shape[1])
    for train, test in folds.split(latent, y):
        thresholds, signs = _fit_stumps(latent[train], y[train])
        predicted = signs * (latent[test] - thresholds) > 0
        scores += _balanced_accuracy(predicted, y[test])
    return scores / n_splits


def identity_accuracy(latent: np.ndarray, labels: Sequence, n_splits: int = 5, seed: int = 0) -> pd.DataFrame:
    """Per label, how well the single best latent dimension tells it from all other cells.

    For each dimension a threshold rule is fitted on training folds and scored by balanced
    accuracy (0.5 = chance, 1 = perfect) on the held-out fold, over `n_splits` stratified folds
    (fewer for labels with fewer cells). Returns one row per label with columns `label`, `dim`
    (0-based; the dimension with the best cross-validated score) and `balanced_accuracy` (that
    score; NaN for a label with fewer than 2 cells, or covering all cells but one). Picking the
    best of the dimensions makes it slightly optimistic when cells are few and dimensions many.
    """
    latent, labels = _as_inputs(latent, labels)
    if n_splits < 2:
        raise ValueError(f"n_splits must be at least 2, got {n_splits}")
    rows = []
    for label in np.unique(labels):
        y = labels == label
        splits = min(n_splits, int(y.sum()), int((~y).sum()))
        if splits < 2:
            rows.append({"label": label, "dim": -1, "balanced_accuracy": np.nan})
            continue
        scores = _cv_stump_scores(latent, y, splits, seed)
        dim = int(np.argmax(scores))
        rows.append({"label": label, "dim": dim, "balanced_accuracy": float(scores[dim])})
    return pd.DataFrame(rows, columns=["label", "dim", "balanced_accuracy"])
