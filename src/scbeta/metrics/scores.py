"""Every disentanglement score of a latent at once, by the names of `scbeta.registry.METRICS`."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from scbeta.metrics.disentanglement import dci, explicitness, mig, modularity, sap
from scbeta.metrics.drvi import drvi_scores
from scbeta.registry import metrics_of


def _dci_scores(latent: np.ndarray, factors: pd.DataFrame, *, seed: int) -> dict[str, float]:
    return {f"dci_{key}": value for key, value in dci(latent, factors, seed=seed).items()}


# Metric name → function(latent, factors, *, seed) of one score.
SCORES: dict[str, Callable[..., float]] = {"mig": mig, "sap": sap, "modularity": modularity,
                                           "explicitness": explicitness}
# Functions(latent, factors, *, seed) that compute several scores at once, as name → value.
SCORE_GROUPS: tuple[Callable[..., dict[str, float]], ...] = (_dci_scores, drvi_scores)


def all_scores(latent: np.ndarray, factors: pd.DataFrame, *, seed: int = 0) -> dict[str, float]:
    """Every "disentanglement" metric of the registry with default settings, as a flat name → value dict in
    the registry's order.

    Raises ValueError when a score here and the registry's "disentanglement" metrics differ.
    """
    scores = {name: function(latent, factors, seed=seed) for name, function in SCORES.items()}
    for group in SCORE_GROUPS:
        scores.update(group(latent, factors, seed=seed))
    registered = metrics_of("disentanglement")
    if set(scores) != set(registered):
        raise ValueError(f"scores {sorted(set(scores) - set(registered))} are not in scbeta.registry.METRICS "
                         f"and {sorted(set(registered) - set(scores))} have no function in scbeta.metrics.scores")
    return {name: scores[name] for name in registered}
