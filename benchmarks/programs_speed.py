"""Wall-clock time of the gene programs of one run at the default size (5,000 cells × 2,000 genes).

Run: python benchmarks/programs_speed.py [--cells N] [--genes G] [--epochs E] [--threads T] [--repeats R].
Trains a short model on the default simulation (the config's simulator settings), then times
`scbeta.tl.gene_programs` (500 cells, 10 dimensions), the recovery scores of every factor, and
each baseline fitted with its loadings (the baseline job, which stores them for its program job). Training
length does not change the cost of a traversal; prints the median of `--repeats` runs.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import scbeta
from scbeta.baselines import fit_baseline_with_loadings
from scbeta.programs import recovery
from scbeta.simulate import factor_names, simulate_counts
from _common import config_simulation


def median_seconds(step, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        tic = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - tic)
    return float(np.median(times)), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=5000)
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    adata = simulate_counts(**{**config_simulation(), "n_cells": args.cells, "n_genes": args.genes})
    model = scbeta.fit(adata, epochs=args.epochs, seed=0, device="cpu")
    seconds, programs = median_seconds(lambda: scbeta.tl.gene_programs(model, adata, n_cells=500, seed=0),
                                       args.repeats)
    print(f"gene_programs, {args.cells} cells × {args.genes} genes, {args.threads} thread(s): {seconds:.2f} s")
    latent = model.latent(adata)
    dims = scbeta.metrics.max_abs_corr(latent, adata.obs[factor_names(adata)])["dim"]
    tic = time.perf_counter()
    for factor, dim in dims.items():
        recovery(programs.loc[programs["dim"] == dim, "score"], adata.var[f"{factor}_gene"])
    print(f"recovery of {len(dims)} factors: {time.perf_counter() - tic:.3f} s")
    for method in ("pca", "ica", "nmf"):
        seconds, _ = median_seconds(lambda: fit_baseline_with_loadings(method, adata.X, 10, seed=0), 1)
        print(f"{method} with loadings: {seconds:.2f} s")


if __name__ == "__main__":
    main()
