"""What the benchmark scripts share: the simulated counts they measure on, and how a step is timed.

The scripts import it from their own folder (`python benchmarks/<script>.py` puts that folder on
the path). The config's training settings as `scbeta.fit_many` takes them are
`scbeta.config.training_keywords`.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import anndata as ad

REPO = Path(__file__).resolve().parents[1]

#: Simulator settings of the speed benchmarks: about 3,000 UMIs per cell and 70 % zeros, as in 10x
#: data, with the cNMF simulation's differential expression; Splatter's defaults otherwise.
SIMULATION: dict[str, float] = {"lib_loc": 8.0, "lib_scale": 0.4, "de_prob": 0.025, "de_loc": 1.0, "de_scale": 1.0}


def simulated_counts(n_cells: int, n_genes: int, seed: int = 0) -> ad.AnnData:
    """`n_cells` × `n_genes` simulated counts with the speed benchmarks' `SIMULATION` settings."""
    from scbeta.simulate import simulate_counts

    return simulate_counts(n_cells, n_genes, seed=seed, **SIMULATION)


def config_simulation(config_path: str | Path = REPO / "config.yaml") -> dict[str, Any]:
    """The simulator parameters of the dataset `simulated` in config.yaml (its cells, genes and seed included)."""
    import yaml

    config = yaml.safe_load(Path(config_path).read_text())
    return dict(config["datasets"]["simulated"]["simulate"])


def median_step_ms(step: Callable[[], object], steps: int, warmup: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds per call of `step`, over `steps` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        step()
    wall, cpu = [], []
    for _ in range(steps):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return 1e3 * statistics.median(wall), 1e3 * statistics.median(cpu)
