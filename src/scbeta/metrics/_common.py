"""Helpers the metric modules share: input checks, cell sampling, discretisation and plug-in mutual information.

`latent` is a cells × dims array; `factors` a cells × factors DataFrame whose numeric (non-bool)
columns are continuous and whose category, object, string or bool columns are categorical.
Mutual information and entropies are in nats.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

# ------------------------------------------------------------------------------------------
# Inputs, sampling and discretisation


def is_categorical(column: pd.Series) -> bool:
    """Whether a factor column is categorical (category, object, string or bool dtype)."""
    return not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _check(latent: np.ndarray, factors: pd.DataFrame) -> np.ndarray:
    """The latent as float64 after checking its shape against `factors` and that both are usable."""
    latent = np.asarray(latent, dtype=np.float64)
    if latent.ndim != 2 or latent.shape[0] != len(factors) or latent.shape[1] == 0:
        raise ValueError(f"latent must be cells × dims with {len(factors)} cells, got shape {latent.shape}")
    if factors.shape[1] == 0:
        raise ValueError("factors has no columns")
    if not np.all(np.isfinite(latent)):
        raise ValueError("latent holds NaN or Inf")
    missing = factors.columns[factors.isna().any().to_numpy()]
    if len(missing):
        raise ValueError(f"factors {list(missing)} have missing values")
    constant = factors.columns[(factors.nunique() < 2).to_numpy()]
    if len(constant):
        raise ValueError(f"factors {list(constant)} are constant and carry no information")
    return latent


def _sample(n_cells: int, max_cells: int | None, seed: int) -> np.ndarray:
    """Random order of at most `max_cells` cell indices (all cells, shuffled, if None)."""
    order = np.random.default_rng(seed).permutation(n_cells)
    return order if max_cells is None else order[:max_cells]


def _prepare(latent: np.ndarray, factors: pd.DataFrame, max_cells: int | None,
             seed: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Validated float latent and factors, restricted to a random subsample when `max_cells` is set."""
    latent = np.asarray(latent)
    if max_cells is not None and max_cells < len(factors):
        rows = np.sort(_sample(len(factors), max_cells, seed))
        latent, factors = latent[rows], factors.iloc[rows]
    return _check(latent, factors), factors


def _split(latent: np.ndarray, factors: pd.DataFrame, max_cells: int | None, test_fraction: float,
           seed: int) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Random train/test split of (at most `max_cells`) cells: x_train, x_test, factors_train, factors_test."""
    latent = _check(latent, factors)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    rows = _sample(len(factors), max_cells, seed)
    n_test = int(round(len(rows) * test_fraction))
    if n_test < 2 or len(rows) - n_test < 2:
        raise ValueError(f"too few cells ({len(rows)}) for a train/test split")
    train, test = rows[n_test:], rows[:n_test]
    return latent[train], latent[test], factors.iloc[train], factors.iloc[test]


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z-score both with the training mean and standard deviation (constant dims stay at 0)."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (train - mean) / std, (test - mean) / std


def _codes(column: pd.Series) -> np.ndarray:
    """Integer codes 0 … k−1 of a categorical column, in sorted level order."""
    return pd.factorize(column, sort=True)[0]


def _target(train: pd.DataFrame, test: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """One factor on the training and test cells: shared integer codes if categorical, else floats."""
    both = pd.concat([train[name], test[name]])
    values = _codes(both) if is_categorical(both) else both.to_numpy(dtype=np.float64)
    return values[: len(train)], values[len(train):]


def equal_width_codes(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width histogram bin (0 … n_bins−1) of each value, column by column.

    The same binning as `np.digitize(x, np.histogram(x, n_bins)[1][:-1]) - 1`, disentanglement_lib's
    discretiser; a constant column falls into bin 0.
    """
    values = np.asarray(values, dtype=np.float64)
    low = values.min(axis=0)
    span = values.max(axis=0) - low
    scaled = np.divide(values - low, span, out=np.zeros_like(values), where=span > 0)
    return np.minimum((scaled * n_bins).astype(np.intp), n_bins - 1)


def factor_codes(factors: pd.DataFrame, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (cells × factors) and number of levels per factor.

    Categorical factors keep their observed levels; continuous factors are cut into `n_bins`
    equal-width bins.
    """
    codes, levels = [], []
    for _, column in factors.items():
        if is_categorical(column):
            code = _codes(column)
            levels.append(code.max() + 1)
        else:
            code = equal_width_codes(column.to_numpy(dtype=np.float64), n_bins)
            levels.append(n_bins)
        codes.append(code)
    return np.column_stack(codes), np.asarray(levels)


# ------------------------------------------------------------------------------------------
# Mutual information


def _indicators(codes: np.ndarray, n_levels: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """One-hot indicators of every column's codes side by side (cells × Σ levels) and block offsets."""
    n_cells, n_columns = codes.shape
    offsets = np.concatenate(([0], np.cumsum(n_levels)[:-1]))
    indices = (codes + offsets).ravel()
    indptr = np.arange(0, n_cells * n_columns + 1, n_columns)
    matrix = sp.csr_matrix((np.ones(indices.size), indices, indptr), shape=(n_cells, int(n_levels.sum())))
    return matrix, offsets


def _xlogy_ratio(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """p·log(p/q), with 0·log 0 = 0."""
    out = np.zeros_like(p)
    positive = p > 0
    out[positive] = p[positive] * np.log(p[positive] / q[positive])
    return out


def mutual_info_matrix(a_codes: np.ndarray, a_levels: np.ndarray, b_codes: np.ndarray,
                       b_levels: np.ndarray) -> np.ndarray:
    """Plug-in mutual information (nats) of every column of `a` with every column of `b`.

    Inputs are integer codes (cells × columns) with the number of levels of each column. All
    contingency tables come from one sparse product of one-hot indicators, so the cost is one
    pass over the cells whatever the number of column pairs.
    """
    n_cells = a_codes.shape[0]
    a, a_offsets = _indicators(a_codes, a_levels)
    b, b_offsets = _indicators(b_codes, b_levels)
    joint = (a.T @ b).toarray() / n_cells
    p_a = np.asarray(a.sum(axis=0)).ravel() / n_cells
    p_b = np.asarray(b.sum(axis=0)).ravel() / n_cells
    terms = _xlogy_ratio(joint, np.outer(p_a, p_b))
    return np.add.reduceat(np.add.reduceat(terms, a_offsets, axis=0), b_offsets, axis=1)


def entropies(codes: np.ndarray, n_levels: np.ndarray) -> np.ndarray:
    """Plug-in entropy (nats) of every column of integer codes."""
    matrix, offsets = _indicators(codes, n_levels)
    p = np.asarray(matrix.sum(axis=0)).ravel() / codes.shape[0]
    return -np.add.reduceat(_xlogy_ratio(p, np.ones_like(p)), offsets)


def _latent_mi(latent: np.ndarray, codes: np.ndarray, levels: np.ndarray, n_bins: int) -> np.ndarray:
    """Mutual information (nats, dims × factors) of equal-width-binned latent dims with factor codes."""
    n_dims = latent.shape[1]
    return mutual_info_matrix(equal_width_codes(latent, n_bins), np.full(n_dims, n_bins), codes, levels)


def _top_two(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest and second-largest value of every column (second is 0 with a single row)."""
    if scores.shape[0] == 1:
        return scores[0], np.zeros(scores.shape[1])
    ordered = np.sort(scores, axis=0)
    return ordered[-1], ordered[-2]
