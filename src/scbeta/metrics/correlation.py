"""The preprint's alignment score: the largest absolute correlation of a factor with any one latent dimension."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

METHODS = ("pearson", "spearman")


def _standardise(values: np.ndarray) -> np.ndarray:
    centred = values - values.mean(axis=0)
    norm = np.sqrt((centred**2).sum(axis=0))
    # A constant column correlates with nothing: give it zeros instead of 0/0.
    return np.divide(centred, norm, out=np.zeros_like(centred), where=norm > 0)


def correlation_matrix(latent: np.ndarray, factors: pd.DataFrame, method: str = "pearson") -> pd.DataFrame:
    """Correlation of every latent dimension (rows, `dim_00`, …) with every factor (columns)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    latent = np.asarray(latent, dtype=np.float64)
    if latent.ndim != 2 or latent.shape[0] != len(factors):
        raise ValueError(f"latent must be cells × dims with {len(factors)} cells, got shape {latent.shape}")
    values = factors.to_numpy(dtype=np.float64)
    if method == "spearman":
        latent = rankdata(latent, axis=0)
        values = rankdata(values, axis=0)
    corr = _standardise(latent).T @ _standardise(values)
    dims = [f"dim_{i:02d}" for i in range(latent.shape[1])]
    return pd.DataFrame(corr, index=dims, columns=factors.columns)


def max_abs_corr(latent: np.ndarray, factors: pd.DataFrame, method: str = "pearson") -> pd.DataFrame:
    """For each factor, the latent dimension with the largest |correlation| and that value.

    Returns one row per factor (index `factor`) with columns `dim` (integer index of the
    dimension), `corr` (signed correlation) and `abs_corr`. This is the preprint's
    "Latent Dim. Corr."; factors are numeric (0/1 for an indicator).
    """
    corr = correlation_matrix(latent, factors, method)
    best = np.abs(corr.to_numpy()).argmax(axis=0)
    signed = corr.to_numpy()[best, np.arange(corr.shape[1])]
    table = pd.DataFrame({"dim": best, "corr": signed, "abs_corr": np.abs(signed)},
                         index=pd.Index(factors.columns, name="factor"))
    return table
