"""Seconds per epoch and peak memory of scbeta.fit as the number of cells grows (× 2,000 genes).

Run: python benchmarks/scale.py [--cells 10000 100000] [--million] [--data DIR]
`--million` adds 1,000,000 cells (about 25 min to simulate and 5 GB on disk, more on a loaded
machine). With `--data`, the simulated counts are kept in DIR and reused by later runs.

Each size runs in two fresh subprocesses, so that each peak is that process's own maximum
resident set size (getrusage; tracemalloc does not see torch's memory):
  simulate  `simulate_counts` in chunks of cells, then the CSR arrays saved to DIR;
  train     the arrays loaded, `scbeta.fit` for one full epoch on 2 threads (the default model:
            ZINB, 1 × 128 hidden, 10 latent, batch 128). The training peak includes the counts
            as loaded, the count checks and the store, and so what a user's process needs.
Seconds per epoch is one full epoch, measured, not extrapolated. Cost should grow linearly with
cells: the table shows µs per cell.
"""
from __future__ import annotations

import os

# As in train_speed.py: sleeping OpenMP workers, robust to other load (OMP_WAIT_POLICY=ACTIVE on an idle machine).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

N_GENES = 2000
THREADS = 2
MEMORY_LIMIT_GIB = 16


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def simulate(n_cells: int, folder: Path) -> dict:
    import numpy as np
    from _common import simulated_counts

    tic = time.perf_counter()
    counts = simulated_counts(n_cells, N_GENES).X
    seconds = time.perf_counter() - tic
    for name in ("data", "indices", "indptr"):
        np.save(folder / f"{name}.npy", getattr(counts, name))
    return {"seconds": seconds, "peak_gib": _peak_gib(), "nnz": int(counts.nnz)}


def train(folder: Path) -> dict:
    import anndata as ad
    import numpy as np
    import scipy.sparse as sp
    import torch

    import scbeta

    torch.set_num_threads(THREADS)
    data, indices, indptr = (np.load(folder / f"{name}.npy") for name in ("data", "indices", "indptr"))
    adata = ad.AnnData(sp.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, N_GENES)))
    del data, indices, indptr
    tic = time.perf_counter()
    model = scbeta.fit(adata, epochs=1, device="cpu", seed=0)
    total = time.perf_counter() - tic
    epoch = float(model.history["seconds"].iloc[0])
    return {"epoch_seconds": epoch, "setup_seconds": total - epoch, "peak_gib": _peak_gib(),
            "neg_elbo": float(model.history["neg_elbo"].iloc[0])}


def _run(*args: str) -> dict:
    """Run this script as a fresh worker process; return the JSON it prints last."""
    done = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--million", action="store_true", help="also 1,000,000 cells")
    parser.add_argument("--data", type=Path, default=None, help="keep the simulated counts here and reuse them")
    parser.add_argument("--worker", nargs=2, metavar=("TASK", "ARG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        task, arg = args.worker
        result = simulate(int(arg.split(":")[0]), Path(arg.split(":")[1])) if task == "simulate" else train(Path(arg))
        print(json.dumps(result))
        return

    sizes = args.cells + ([1_000_000] if args.million else [])
    print(f"{N_GENES} genes, {THREADS} threads, one full epoch each; "
          f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    print(f"{'cells':>9} {'nnz (M)':>8} {'sim s':>7} {'sim GiB':>8} {'s/epoch':>8} {'µs/cell':>8} "
          f"{'setup s':>8} {'train GiB':>9}", flush=True)
    for n_cells in sizes:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) if args.data is None else args.data / f"cells_{n_cells}"
            sim = json.loads((folder / "simulate.json").read_text()) if (folder / "simulate.json").exists() else None
            if sim is None:
                folder.mkdir(parents=True, exist_ok=True)
                sim = _run("--worker", "simulate", f"{n_cells}:{folder}")
                (folder / "simulate.json").write_text(json.dumps(sim))
            fit = _run("--worker", "train", str(folder))
        verdict = "" if fit["peak_gib"] < MEMORY_LIMIT_GIB else f"  over {MEMORY_LIMIT_GIB} GiB"
        print(f"{n_cells:>9} {sim['nnz'] / 1e6:>8.1f} {sim['seconds']:>7.0f} {sim['peak_gib']:>8.2f} "
              f"{fit['epoch_seconds']:>8.1f} {1e6 * fit['epoch_seconds'] / n_cells:>8.1f} "
              f"{fit['setup_seconds']:>8.1f} {fit['peak_gib']:>9.2f}{verdict}", flush=True)
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
