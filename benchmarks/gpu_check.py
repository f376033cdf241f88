"""On a CUDA device: `fit_many` trains each objective without a host synchronisation inside an epoch, in a CUDA graph.

    python benchmarks/gpu_check.py [--epochs 5] [--speed-models 1 8 16]

Part 1, for each of the four objectives, three models (different β or γ and seeds) on
2,000 simulated cells × 500 genes: trained on the CPU, then on CUDA under
`torch.cuda.set_sync_debug_mode("error")` (any synchronisation inside an epoch raises; set-up,
the once-per-epoch history read and checkpoints synchronise on purpose), with and without the
CUDA graph. Prints each model's final loss on each and the relative gaps (the random draws
differ between devices, so expect agreement to a few tenths of a percent, not bitwise).
Part 2: seconds per model-epoch and milliseconds per model-step at 4,000 cells × 2,000 genes
(32 steps of 128 cells an epoch) for K models at once, with the CUDA graph and without.
Each line is flushed as it is printed, so a run cut short still tells something; a failure is
printed with its traceback and the next check runs.
"""
from __future__ import annotations

import argparse
import math
import statistics
import traceback

import torch

import scbeta
from _common import simulated_counts

SMALL = {"n_hidden": 64, "batch_size": 128, "kl_warmup_epochs": 0}
RUNS = {
    "beta": [{"objective": "beta", "beta": b, "seed": s} for b, s in ((1.0, 0), (4.0, 1), (10.0, 2))],
    "capacity": [{"objective": "capacity", "beta": b, "c_max": 5.0, "seed": s} for b, s in ((1.0, 0), (4.0, 1), (10.0, 2))],
    "tcvae": [{"objective": "tcvae", "beta": b, "seed": s} for b, s in ((1.0, 0), (6.0, 1), (10.0, 2))],
    "factorvae": [{"objective": "factorvae", "seed": s, "objective_params": {"gamma": g, "discriminator_width": 128}}
                  for g, s in ((6.0, 0), (10.0, 1), (40.0, 2))],
}


def final_losses(adata, runs: list[dict], epochs: int, device: str, cuda_graph: bool = True) -> list[float]:  # noqa: ANN001
    if device == "cuda":
        torch.cuda.set_sync_debug_mode("error")
    try:
        models = scbeta.fit_many(adata, runs, epochs=epochs, device=device, cuda_graph=cuda_graph, **SMALL)
    finally:
        if device == "cuda":
            torch.cuda.set_sync_debug_mode(0)
    return [float(m.history["loss"].iloc[-1]) for m in models]


def gaps(values: list[float], reference: list[float]) -> list[str]:
    """Relative differences, in percent."""
    return [f"{100 * (v - r) / abs(r):+.2f} %" for v, r in zip(values, reference)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--speed-models", type=int, nargs="+", default=[1, 8, 16])
    args = parser.parse_args()
    print(f"torch {torch.__version__}, scbeta {scbeta.__version__}, {torch.cuda.get_device_name()}", flush=True)
    adata = simulated_counts(2000, 500)
    for objective, runs in RUNS.items():
        try:
            cpu = final_losses(adata, runs, args.epochs, "cpu")
            eager = final_losses(adata, runs, args.epochs, "cuda", cuda_graph=False)
            print(f"{objective:<10} CPU {[round(v, 2) for v in cpu]}  CUDA no graph {[round(v, 2) for v in eager]}  "
                  f"no graph vs CPU {gaps(eager, cpu)}", flush=True)
            graph = final_losses(adata, runs, args.epochs, "cuda")
            print(f"{objective:<10} CUDA graph {[round(v, 2) for v in graph]}  graph vs CPU {gaps(graph, cpu)}  "
                  f"graph vs no graph {gaps(graph, eager)}", flush=True)
        except Exception:  # noqa: BLE001 - report and go on to the next check
            print(f"{objective}: FAILED\n{traceback.format_exc()}", flush=True)
    n_cells = 4000
    adata = simulated_counts(n_cells, 2000)
    steps = math.ceil(n_cells / 128)
    for n_models in args.speed_models:
        for cuda_graph in (True, False):
            runs = [{"objective": "beta", "seed": seed} for seed in range(n_models)]
            try:
                models = scbeta.fit_many(adata, runs, epochs=4, device="cuda", kl_warmup_epochs=4,
                                         cuda_graph=cuda_graph)
            except Exception:  # noqa: BLE001 - report and go on
                print(f"K = {n_models}, graph {cuda_graph}: FAILED\n{traceback.format_exc()}", flush=True)
                continue
            seconds = statistics.median(models[0].history["seconds"].iloc[1:])
            print(f"K = {n_models:>2}, {'graph   ' if cuda_graph else 'no graph'}: {seconds:.3f} s per epoch, "
                  f"{seconds / n_models:.4f} s per model-epoch, {1000 * seconds / n_models / steps:.3f} ms per "
                  f"model-step ({n_cells:,} cells × 2,000 genes, ZINB, batch 128, median of epochs 2-4)", flush=True)


if __name__ == "__main__":
    main()
