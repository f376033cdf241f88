"""Training wall time of the default study on one device, from measured per-group epoch costs.

    python benchmarks/study_time.py [--device cpu|cuda] [--group-size 8] [--measure-epochs 3]
                                    [--max-cells 5000] [--cells kang2018=25000] [--configfile config.yaml]

The study's runs (`scbeta.config.expand_runs` on the config) are put into groups as
`scbeta.fit_many` trains them: one objective and its fixed options per group, at most
`--group-size` models. For every kind of group (dataset, objective, options, K models) one
group is trained for `--measure-epochs` epochs on simulated counts of the dataset's shape (at
most `--max-cells` cells) and its seconds per epoch measured (median of the epochs after the
first, which pays for set-up and, on CUDA, graph capture). That is then extrapolated: linearly
in cells to the dataset's size (time per cell is flat in cells, benchmarks/README.md,
scale.py), times the run's epochs, times the number of such groups. Every printed number says
whether it is measured or extrapolated. Training only: baselines, metrics and figures are not
included. A real dataset's size is not known before it is downloaded: give it with --cells NAME=N;
otherwise its max_cells, else 25,000 (about the singlets of Kang et al. with a cell type).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see train_speed.py

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
import yaml  # noqa: E402

import scbeta  # noqa: E402
from scbeta.config import (  # noqa: E402
    enabled_datasets,
    expand_runs,
    fixed_options,
    group_runs,
    training_keywords,
    training_runs,
)
from scbeta.train import default_epochs  # noqa: E402
from _common import simulated_counts  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ASSUMED_CELLS = 25_000  # a real dataset's size when neither --cells nor max_cells gives it (Kang et al.: ~25,000)


def seconds_per_epoch(adata, runs: list[dict], epochs: int, training: dict, device: str) -> float:  # noqa: ANN001
    """Measured wall seconds of one epoch of the group `runs` (median of the epochs after the first)."""
    seconds = scbeta.fit_many(adata, runs, **{**training, "epochs": epochs, "device": device})[0].history["seconds"]
    return statistics.median(seconds.iloc[1:] if len(seconds) > 1 else seconds)


def study_groups(config: dict, group_size: int) -> list[dict]:
    """The study's training groups as the workflow forms them (`scbeta.config.group_runs`): dataset,
    objective, the shared options and the runs (as fit_many takes them)."""
    table = group_runs(expand_runs(config), group_size)
    table = table[table["method"] == "vae"]
    return [{"dataset": dataset, "objective": rows["objective"].iloc[0],
             "options": json.dumps(fixed_options(rows["objective"].iloc[0], rows["objective_params"].iloc[0]),
                                   sort_keys=True),
             "runs": training_runs(rows)}
            for (dataset, _), rows in table.groupby(["dataset", "group"], sort=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", type=Path, default=REPO / "config.yaml")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--group-size", type=int, default=8, help="most models trained at once")
    parser.add_argument("--measure-epochs", type=int, default=3)
    parser.add_argument("--max-cells", type=int, default=5000, help="measure on at most this many cells")
    parser.add_argument("--cells", nargs="*", default=[], help="NAME=N for datasets not simulated")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(args.configfile.read_text())
    given_cells = {name: int(n) for name, n in (item.split("=") for item in args.cells)}
    training = training_keywords(config)

    print(f"torch {torch.__version__}, scbeta {scbeta.__version__}, device {args.device}, {args.threads} threads, "
          f"groups of at most {args.group_size}, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'dataset':<10} {'objective':<10} {'K':>3} {'groups':>6} {'cells':>7} {'epochs':>6} "
          f"{'s/epoch (measured)':>26} {'s/epoch full size':>24} {'hours, all groups':>24}")
    total_hours = 0.0
    groups = study_groups(config, args.group_size)
    kinds: dict[tuple, list[dict]] = {}
    for group in groups:
        kinds.setdefault((group["dataset"], group["objective"], len(group["runs"]), group["options"]), []).append(group)
    for name in enabled_datasets(config):
        spec = config["datasets"][name]
        if spec["source"] == "simulate":
            sim = spec.get("simulate", {})
            n_cells, n_genes, cells_label = sim.get("n_cells", 5000), sim.get("n_genes", 2000), "config"
        else:
            n_genes = spec.get("n_top_genes", 2000)
            if name in given_cells:
                n_cells, cells_label = given_cells[name], "--cells"
            elif spec.get("max_cells"):
                n_cells, cells_label = spec["max_cells"], "max_cells in the config"
            else:
                n_cells, cells_label = ASSUMED_CELLS, "assumed, not measured; give --cells"
        epochs = config["training"].get("epochs") or default_epochs(n_cells)
        measure_cells = min(n_cells, args.max_cells)
        adata = simulated_counts(measure_cells, n_genes)
        for key, same in kinds.items():
            if key[0] != name:
                continue
            seconds = seconds_per_epoch(adata, same[0]["runs"], args.measure_epochs, training, args.device)
            full = seconds * n_cells / measure_cells
            hours = full * epochs * len(same) / 3600
            total_hours += hours
            scaled = "measured" if measure_cells == n_cells else "extrapolated"
            print(f"{name:<10} {key[1]:<10} {key[2]:>3} {len(same):>6} {n_cells:>7} {epochs:>6} "
                  f"{seconds:>8.2f} at {measure_cells:>6} cells {full:>10.2f} ({scaled}) "
                  f"{hours:>10.2f} (extrapolated)", flush=True)
        print(f"{'':<10} ({name}: {n_cells} cells ({cells_label}), {epochs} epochs)")
    n_models = sum(len(g["runs"]) for g in groups)
    print(f"total training wall time, {n_models} models in {len(groups)} groups, one after another: "
          f"{total_hours:.2f} h (extrapolated), {math.ceil(total_hours * 60)} min")


if __name__ == "__main__":
    main()
