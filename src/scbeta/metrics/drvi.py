"""DRVI's dim-by-factor alignment scores and their aggregates (Moinfar & Theis 2024).

DRVI scores every latent dim against every target, a 0/1 indicator of one process or cell type:
SMI (scaled mutual information) and SPN (same-process neighbours). A dims × targets score matrix
is then aggregated by LMS (one-to-one dim-to-target matching), MSAS (best dim per target) and MSGS
(gap between the two best dims per target). Here the targets are the columns of `factors`:
a bool column is scored exactly as DRVI scores an indicator, so `pd.get_dummies(labels)` reproduces
DRVI's per-category benchmark; a categorical column scores the mean over its levels' indicators;
a continuous column uses the generalisations documented in `smi_matrix` and `spn_matrix`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from scbeta.metrics._common import (
    _codes,
    _prepare,
    _top_two,
    entropies,
    equal_width_codes,
    is_categorical,
    mutual_info_matrix,
)

N_BINS = 10  # DRVI's discrete_mutual_info_score default


def _dim_names(n_dims: int) -> list[str]:
    return [f"dim_{i:02d}" for i in range(n_dims)]


# ------------------------------------------------------------------------------------------
# SMI


def _smi_targets(column: pd.Series, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes (cells × targets) and levels of the discrete targets that stand for one factor."""
    if not is_categorical(column):
        return equal_width_codes(column.to_numpy(dtype=np.float64)[:, None], n_bins), np.array([n_bins])
    codes = _codes(column)
    n_levels = codes.max() + 1
    if pd.api.types.is_bool_dtype(column):
        return codes[:, None], np.array([2])
    indicators = (codes[:, None] == np.arange(n_levels)).astype(np.intp)
    return indicators, np.full(n_levels, 2)


def smi_matrix(latent: np.ndarray, factors: pd.DataFrame, *, n_bins: int = N_BINS,
               max_cells: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Scaled mutual information of every dim (rows) with every factor (columns), in [0, 1].

    DRVI's SMI: each dim is cut into `n_bins` equal-width bins and its plug-in MI with a 0/1 target
    is divided by the target's entropy. A bool factor is one such target (its True cells); a
    categorical factor averages over its levels' indicators; a continuous factor is itself cut into
    `n_bins` equal-width bins and its MI divided by its binned entropy. `max_cells` estimates on a
    random subsample.
    """
    latent, factors = _prepare(latent, factors, max_cells, seed)
    dim_codes = equal_width_codes(latent, n_bins)
    dim_levels = np.full(latent.shape[1], n_bins)
    scores = np.zeros((latent.shape[1], factors.shape[1]))
    for j, (_, column) in enumerate(factors.items()):
        targets, levels = _smi_targets(column, n_bins)
        mi = mutual_info_matrix(dim_codes, dim_levels, targets, levels)
        scores[:, j] = (mi / entropies(targets, levels)).mean(axis=1)
    return pd.DataFrame(scores, index=_dim_names(latent.shape[1]), columns=factors.columns)


# ------------------------------------------------------------------------------------------
# SPN


def _order(latent: np.ndarray, seed: int) -> np.ndarray:
    """Cell order along every dim (cells × dims), ties broken at random."""
    # A stable sort of shuffled cells: input order, often grouped by sample or cell type, must not
    # make tied values (e.g. exact zeros) look like same-type neighbours.
    shuffle = np.random.default_rng(seed).permutation(latent.shape[0])
    return shuffle[np.argsort(latent[shuffle], axis=0, kind="stable")]


def _spn_levels(order: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """DRVI's SPN of each level's indicator along each dim (levels × dims).

    For level k with n_k of n cells: (share of the n_k − 1 neighbour slots in a run of k that are
    taken by k, minus n_k/n expected at random), clipped at 0 and divided by 1 − n_k/n.
    """
    n_cells, n_dims = order.shape
    n_levels = codes.max() + 1
    ordered = codes[order]
    same = ordered[:-1] == ordered[1:]
    dims = np.broadcast_to(np.arange(n_dims), same.shape)
    pairs = np.bincount(ordered[:-1][same] * n_dims + dims[same], minlength=n_levels * n_dims)
    pairs = pairs.reshape(n_levels, n_dims)
    counts = np.bincount(codes, minlength=n_levels)[:, None]
    share = counts / n_cells
    neighbours = np.divide(pairs, counts - 1, out=np.zeros(pairs.shape), where=counts > 1)
    return np.clip(neighbours - share, 0.0, None) / (1.0 - share)


def _spn_continuous(order: np.ndarray, values: np.ndarray) -> np.ndarray:
    """1 − mean squared step between neighbours along each dim / its value at random (2·variance), ≥ 0."""
    steps = np.diff(values[order], axis=0)
    return np.clip(1.0 - (steps**2).mean(axis=0) / (2.0 * values.var()), 0.0, None)


def spn_matrix(latent: np.ndarray, factors: pd.DataFrame, *, max_cells: int | None = None,
               seed: int = 0) -> pd.DataFrame:
    """Same-process-neighbour score of every dim (rows) with every factor (columns), in [0, 1].

    DRVI's SPN: cells are sorted along the dim and a target is scored by how often each of its
    cells' next neighbour is also in it, beyond chance (see `_spn_levels`). A bool factor is scored
    as that target (its True cells), a categorical factor as the mean over its levels' indicators.
    For a continuous factor y the same chance-corrected neighbour agreement is
    1 − E[(y_{i+1} − y_i)²] / (2·Var y), clipped at 0, which for a 0/1 indicator equals DRVI's score
    up to O(1/n) edge terms. Ties along a dim are broken at random from `seed`; `max_cells` scores a
    random subsample.
    """
    latent, factors = _prepare(latent, factors, max_cells, seed)
    order = _order(latent, seed)
    scores = np.zeros((latent.shape[1], factors.shape[1]))
    for j, (_, column) in enumerate(factors.items()):
        if not is_categorical(column):
            scores[:, j] = _spn_continuous(order, column.to_numpy(dtype=np.float64))
            continue
        levels = _spn_levels(order, _codes(column))
        scores[:, j] = levels[1] if pd.api.types.is_bool_dtype(column) else levels.mean(axis=0)
    return pd.DataFrame(scores, index=_dim_names(latent.shape[1]), columns=factors.columns)


# ------------------------------------------------------------------------------------------
# Aggregates of a dims × factors score matrix


def latent_matching_score(scores: np.ndarray) -> float:
    """LMS: mean score over factors of the best one-to-one matching of dims to factors (unmatched count 0)."""
    scores = np.asarray(scores, dtype=np.float64)
    rows, columns = linear_sum_assignment(scores, maximize=True)
    return float(scores[rows, columns].sum() / scores.shape[1])


def most_similar_averaging_score(scores: np.ndarray) -> float:
    """MSAS: mean over factors of the best dim's score."""
    return float(np.asarray(scores, dtype=np.float64).max(axis=0).mean())


def most_similar_gap_score(scores: np.ndarray) -> float:
    """MSGS: mean over factors of the gap between the best and second-best dim's score."""
    best, second = _top_two(np.asarray(scores, dtype=np.float64))
    return float(np.mean(best - second))


def drvi_scores(latent: np.ndarray, factors: pd.DataFrame, *, n_bins: int = N_BINS,
                max_cells: int | None = None, seed: int = 0) -> dict[str, float]:
    """LMS, MSAS and MSGS of the SMI and SPN matrices: keys `lms_smi`, `msas_smi`, `msgs_smi`, `lms_spn`, …

    All lie in [0, 1], higher is better. Matches DRVI's DiscreteDisentanglementBenchmark (SMI with
    10 bins, SPN, and its three aggregations) when every factor is a bool indicator; see the module
    docstring for categorical and continuous factors.
    """
    matrices = {
        "smi": smi_matrix(latent, factors, n_bins=n_bins, max_cells=max_cells, seed=seed).to_numpy(),
        "spn": spn_matrix(latent, factors, max_cells=max_cells, seed=seed).to_numpy(),
    }
    aggregates = {"lms": latent_matching_score, "msas": most_similar_averaging_score,
                  "msgs": most_similar_gap_score}
    return {f"{aggregate}_{metric}": function(matrix)
            for metric, matrix in matrices.items() for aggregate, function in aggregates.items()}
