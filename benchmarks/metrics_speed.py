"""Wall-clock time of every disentanglement metric on 25,000 cells × 10 dims × 8 factors.

Run: python benchmarks/metrics_speed.py [--cells N] [--seed S]. Prints a metric/seconds table and
the scores, so a slowdown or a changed value is visible at a glance. The target is < 60 s in total
on 2 cores.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from scbeta.metrics.disentanglement import all_scores, dci, explicitness, mig, modularity, sap
from scbeta.metrics.drvi import drvi_scores

N_DIMS = 10
CONTINUOUS = 5
LEVELS = (2, 4, 8)  # levels of the categorical factors


def synthetic(n_cells: int, seed: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Factors (5 continuous, 3 categorical) and a noisy, slightly mixed latent encoding one factor per dim."""
    rng = np.random.default_rng(seed)
    factors = pd.DataFrame({f"cont_{j}": rng.normal(size=n_cells) for j in range(CONTINUOUS)})
    for k in LEVELS:
        factors[f"cat_{k}"] = pd.Categorical(rng.integers(0, k, n_cells).astype(str))
    signals = [factors[f"cont_{j}"].to_numpy() for j in range(CONTINUOUS)]
    signals += [rng.normal(size=k)[factors[f"cat_{k}"].cat.codes.to_numpy()] for k in LEVELS]
    encoded = np.column_stack(signals + [np.zeros(n_cells)] * (N_DIMS - len(signals)))
    mixing = np.eye(N_DIMS) + 0.1 * rng.normal(size=(N_DIMS, N_DIMS))
    return encoded @ mixing + 0.3 * rng.normal(size=(n_cells, N_DIMS)), factors


def timed(function: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=25_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    latent, factors = synthetic(args.cells, args.seed)
    metrics: dict[str, Callable[[], object]] = {
        "mig": lambda: mig(latent, factors),
        "dci (gbt)": lambda: dci(latent, factors),
        "dci (lasso)": lambda: dci(latent, factors, model="lasso"),
        "sap": lambda: sap(latent, factors),
        "modularity": lambda: modularity(latent, factors),
        "explicitness": lambda: explicitness(latent, factors),
        "drvi_scores": lambda: drvi_scores(latent, factors),
        "all_scores": lambda: len(all_scores(latent, factors)),  # everything the workflow computes
    }
    rows = []
    for name, function in metrics.items():
        value, seconds = timed(function)
        if isinstance(value, dict):
            shown = ", ".join(f"{key}={number:.3f}" for key, number in value.items())
        else:
            shown = f"{value} scores" if isinstance(value, int) else f"{value:.3f}"
        rows.append({"metric": name, "seconds": round(seconds, 2), "value": shown})
    table = pd.DataFrame(rows)
    print(f"{args.cells} cells × {N_DIMS} dims × {factors.shape[1]} factors")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
