"""How much of the latent space a model uses: per-dimension activity and KL, active units.

A dimension whose posterior mean does not change across cells carries no information about
them, however well it correlates with a factor (max |corr| is scale-free and cannot see this).
Posterior collapse — the encoder returning the prior for every cell — shows as near-zero
activity and near-zero KL in most dimensions.
"""
from __future__ import annotations

import numpy as np

ACTIVITY_THRESHOLD = 0.01  # Burda et al. (2016): a unit is active if Var_x(E_q[z_d | x]) > 0.01
MIN_ACTIVE_UNITS = 2  # fewer active dimensions than this: the model has collapsed


def _as_latent(values: np.ndarray, name: str) -> np.ndarray:
    """`values` as float64 cells × dims. NaN or Inf raises: a NaN dimension would count as inactive (collapsed)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 1:
        raise ValueError(f"{name} must be cells × dims, got shape {values.shape}")
    bad_cells = (~np.isfinite(values)).sum(axis=0)
    if bad_cells.any():
        first = int(np.flatnonzero(bad_cells)[0])
        kind = "NaN" if np.isnan(values[:, first]).any() else "Inf"
        others = int((bad_cells > 0).sum()) - 1
        also = f" (and {others} other dimension(s) too)" if others else ""
        raise ValueError(f"{name}: dimension {first} holds {kind} in {bad_cells[first]} of {values.shape[0]} "
                         f"cells{also}; a latent that is not finite cannot be judged active or collapsed")
    return values


def latent_activity(z_mean: np.ndarray) -> np.ndarray:
    """Activity of each latent dimension: the variance over cells of its posterior mean E_q[z_d | x].

    In squared latent units (the prior's are N(0, 1), so a dimension that uses the prior's full
    spread has activity near 1). One value per dimension.
    """
    return _as_latent(z_mean, "z_mean").var(axis=0)


def active_units(z_mean: np.ndarray, threshold: float = ACTIVITY_THRESHOLD) -> int:
    """Number of latent dimensions with activity above `threshold` (Burda et al. 2016: 0.01)."""
    return int((latent_activity(z_mean) > threshold).sum())


def kl_per_dim(z_mean: np.ndarray, z_var: np.ndarray) -> np.ndarray:
    """KL(q(z_d | x) ‖ N(0, 1)) of each dimension, mean over cells, in nats.

    From the diagonal Gaussian posterior's means and variances (cells × dims each); summed over
    dimensions it is the KL term of the ELBO.
    """
    mean, var = _as_latent(z_mean, "z_mean"), _as_latent(z_var, "z_var")
    if mean.shape != var.shape:
        raise ValueError(f"z_mean {mean.shape} and z_var {var.shape} differ in shape")
    if (var <= 0).any():
        raise ValueError("z_var must be positive")
    return (0.5 * (mean**2 + var - np.log(var) - 1.0)).mean(axis=0)
