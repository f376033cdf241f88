"""Which reduction of the quick study makes β-VAE models at β ≥ 10 collapse onto the prior.

Run:
    python benchmarks/collapse.py [--settings quick warmup_all ...] [--seeds 0 1] [--jobs 1] [--out rows.tsv]
    python benchmarks/collapse.py --full-grid --settings candidate_d --seeds 0 1 2
    python benchmarks/collapse.py --full-grid --stacked --device cuda --settings candidate_d candidate_i \
                                  --seeds 0 1 2 3 4 5 6 7 8 9 10 11

Each setting changes one training or data size away from `config/quick.yaml` (or from the
default size of `config.yaml`); the simulator's other parameters are those of `config.yaml`,
with its data seed. Per setting and model seed it trains three models with `scbeta.fit_many`:
β-VAE at β = 1 and β = 10, and capacity annealing (C_max = 10 nats) at β = 10. Per model:

- final KL: the KL term of the last epoch, nats per cell (mean over the epoch's minibatches);
- active units: latent dimensions whose posterior mean varies across cells (`scbeta.metrics.active_units`);
- identities / activity: max |Pearson r| of each generative factor with one latent dimension
  (`scbeta.metrics.max_abs_corr`), the mean over the five identity programs, and the activity;
- factors: the same, the mean over all six factors (the value claim 1 tests);
- seconds: wall-clock training time.

The table printed at the end has the mean over seeds; `--out` also keeps one row per model.
With `--full-grid` the models are those of Figure 2C (β-VAE and C_max = 10 at β = 1, 10, 30
and 50) and claims 1a, 1b and 1c are tested on them as `results/claims.md` would (at least
three seeds), with the per-run mean over the six factors of max |r|.

With `--stacked`, each setting's models of one objective train together in one `scbeta.fit_many`
group (all β and seeds at once; fast on a GPU), and with more than three seeds the verdicts are
given for each consecutive set of three seeds (0–2, 3–5, …): how often a quick study of that
size, with three seeds, would reach each verdict.
"""
from __future__ import annotations

import os

# Sleeping OpenMP workers: robust on a shared machine (see benchmarks/README.md). Set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import config_simulation  # noqa: E402

QUICK = {"n_cells": 2000, "n_genes": 500, "epochs": 100, "n_hidden": 64, "kl_warmup_epochs": 25}
DEFAULT = {"n_cells": 5000, "n_genes": 2000, "epochs": 400, "n_hidden": 128, "kl_warmup_epochs": 400}
# Candidate quick studies, KL warm-up over all of training as at the default size.
WHOLE_WARMUP = {"n_cells": 2000, "n_genes": 2000, "epochs": 100, "n_hidden": 64, "kl_warmup_epochs": 100}
# One change at a time from the quick study (first block) or from the default size (second block).
SETTINGS: dict[str, dict[str, int]] = {
    "quick": QUICK,
    "quick, warm-up 100 of 100 epochs": {**QUICK, "kl_warmup_epochs": 100},
    "quick, 2,000 genes": {**QUICK, "n_genes": 2000},
    "quick, 400 epochs (warm-up 25)": {**QUICK, "epochs": 400},
    "quick, 128 hidden": {**QUICK, "n_hidden": 128},
    "quick, 5,000 cells": {**QUICK, "n_cells": 5000},
    "default": DEFAULT,
    "default, warm-up 100 of 400 epochs": {**DEFAULT, "kl_warmup_epochs": 100},
    "default, 500 genes": {**DEFAULT, "n_genes": 500},
    "A: 2,000 × 2,000, 100 epochs": WHOLE_WARMUP,
    "B: 2,000 × 1,000, 100 epochs": {**WHOLE_WARMUP, "n_genes": 1000},
    "C: 1,000 × 2,000, 100 epochs": {**WHOLE_WARMUP, "n_cells": 1000},
    "D: 2,000 × 2,000, 200 epochs": {**WHOLE_WARMUP, "epochs": 200, "kl_warmup_epochs": 200},
    "E: 1,000 × 2,000, 100 epochs, batch 64": {**WHOLE_WARMUP, "n_cells": 1000, "batch_size": 64},
    "F: 1,000 × 2,000, 100 epochs, lr 0.003": {**WHOLE_WARMUP, "n_cells": 1000, "lr": 3e-3},
    "G: 2,000 × 2,000, 100 epochs, 128 hidden": {**WHOLE_WARMUP, "n_hidden": 128},
    "H: 2,000 × 1,000, 200 epochs": {**WHOLE_WARMUP, "n_genes": 1000, "epochs": 200, "kl_warmup_epochs": 200},
    "I: 2,000 × 2,000, 300 epochs": {**WHOLE_WARMUP, "epochs": 300, "kl_warmup_epochs": 300},
    "M: 2,000 × 2,000, 400 epochs": {**WHOLE_WARMUP, "epochs": 400, "kl_warmup_epochs": 400},
    "N: 5,000 × 2,000, 100 epochs": {**WHOLE_WARMUP, "n_cells": 5000},
    "O: 2,000 × 2,000, 200 epochs, 128 hidden": {**WHOLE_WARMUP, "epochs": 200, "kl_warmup_epochs": 200,
                                                  "n_hidden": 128},
}
# Short names for the command line.
ALIASES = {"quick": "quick", "warmup_all": "quick, warm-up 100 of 100 epochs", "genes2000": "quick, 2,000 genes",
           "epochs400": "quick, 400 epochs (warm-up 25)", "hidden128": "quick, 128 hidden",
           "cells5000": "quick, 5,000 cells", "default": "default",
           "default_warmup100": "default, warm-up 100 of 400 epochs", "default_genes500": "default, 500 genes",
           **{f"candidate_{name[0].lower()}": name for name in SETTINGS if name[1] == ":"}}
MODELS = (("beta", 1.0, 0.0), ("beta", 10.0, 0.0), ("capacity", 10.0, 10.0))
FULL_GRID = tuple((objective, beta, c_max) for objective, c_max in (("beta", 0.0), ("capacity", 10.0))
                  for beta in (1.0, 10.0, 30.0, 50.0))


def model_row(setting: str, objective: str, beta: float, c_max: float, seed: int, model: Any, adata: Any,
              seconds: float) -> dict[str, Any]:
    """The table's row of one trained model."""
    import scbeta
    from scbeta.simulate import factor_names

    z = model.latent(adata)
    factors = factor_names(adata)
    corr = scbeta.metrics.max_abs_corr(z, adata.obs[factors])["abs_corr"]
    identities = [f for f in factors if f.startswith("identity_")]
    activities = [f for f in factors if f.startswith("activity_")]
    return {"setting": setting, "objective": objective, "beta": beta, "c_max": c_max, "seed": seed,
            "final_kl": float(model.history["kl"].iloc[-1]),
            "active_units": scbeta.metrics.active_units(z),
            "latent_range": float(np.abs(z).max()),
            "identities": float(corr[identities].mean()), "activity": float(corr[activities].mean()),
            "factors": float(corr.mean()), "final_loss": float(model.history["loss"].iloc[-1]), "seconds": seconds}


def simulate_setting(setting: str) -> Any:
    """The setting's simulated counts (config.yaml's simulator, the setting's cells and genes)."""
    from scbeta.simulate import simulate_counts

    size = SETTINGS[setting]
    return simulate_counts(**{**config_simulation(), "n_cells": size["n_cells"], "n_genes": size["n_genes"]})


def fit_setting(adata: Any, size: dict[str, int], runs: list[dict[str, Any]], device: str) -> list[Any]:
    """The `runs` trained together (`scbeta.fit_many`) with the setting's training sizes."""
    import scbeta

    return scbeta.fit_many(adata, runs, epochs=size["epochs"], n_hidden=size["n_hidden"],
                           kl_warmup_epochs=size["kl_warmup_epochs"], batch_size=size.get("batch_size", 128),
                           lr=size.get("lr", 1e-3), device=device)


def train_stacked(setting: str, models: tuple, seeds: list[int], device: str,
                  epochs: int | None = None) -> list[dict[str, Any]]:
    """Rows of the setting's models, each objective's runs (every β, C_max and seed) trained in one group.
    `seconds` is the group's training time divided by its models. `epochs` overrides the setting's
    epochs and warm-up (smoke tests)."""
    size = SETTINGS[setting] if epochs is None else {**SETTINGS[setting], "epochs": epochs, "kl_warmup_epochs": epochs}
    adata = simulate_setting(setting)
    rows = []
    for objective in dict.fromkeys(m[0] for m in models):
        runs = [{"objective": objective, "beta": beta, "c_max": c_max, "seed": seed}
                for name, beta, c_max in models if name == objective for seed in seeds]
        start = time.perf_counter()
        trained = fit_setting(adata, size, runs, device)
        seconds = (time.perf_counter() - start) / len(runs)
        rows += [model_row(setting, objective, run["beta"], run["c_max"], run["seed"], model, adata, seconds)
                 for run, model in zip(runs, trained)]
    return rows


def train_one(setting: str, objective: str, beta: float, c_max: float, seed: int, device: str,
              threads: int) -> dict[str, Any]:
    """Simulate the setting's counts, train one model, return its row of the table."""
    import torch

    torch.set_num_threads(threads)
    adata = simulate_setting(setting)
    start = time.perf_counter()
    [model] = fit_setting(adata, SETTINGS[setting],
                          [{"objective": objective, "beta": beta, "c_max": c_max, "seed": seed}], device)
    return model_row(setting, objective, beta, c_max, seed, model, adata, time.perf_counter() - start)


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per setting and model, in the order the settings were run."""
    keys = ["setting", "objective", "beta", "c_max"]
    table = rows.groupby(keys, sort=False).agg(
        seeds=("seed", "size"), final_kl=("final_kl", "mean"), active_units=("active_units", "mean"),
        identities=("identities", "mean"), activity=("activity", "mean"), seconds=("seconds", "mean"))
    return table.reset_index()


def claim1_verdicts(rows: pd.DataFrame, seeds_per_set: int | None = None) -> pd.DataFrame:
    """Verdicts of claims 1a, 1b and 1c per setting (and per consecutive set of `seeds_per_set` seeds),
    from each run's mean max |r| over the six factors."""
    from scbeta import claims

    seeds = sorted(rows["seed"].unique())
    size = seeds_per_set or len(seeds)
    seed_sets = [seeds[start:start + size] for start in range(0, len(seeds), size)]
    seed_set = rows["seed"].map({seed: f"{chosen[0]}–{chosen[-1]}" for chosen in seed_sets for seed in chosen})
    verdicts = {}
    for (setting, which), group in rows.assign(seed_set=seed_set).groupby(["setting", "seed_set"], sort=False):
        table = group.assign(
            method="vae", metric="max_abs_corr", factor="mean", dataset="simulated", value=group["factors"],
            run=lambda t: t["objective"] + t["beta"].astype(str) + t["c_max"].astype(str) + t["seed"].astype(str))
        result = claims.evaluate_claims(table, None)
        verdicts[(setting, f"seeds {which}")] = (result[result["claim"] == 1]
                                                 .groupby("comparison", sort=False)["verdict"].first())
    return pd.DataFrame(verdicts).T.rename_axis(index=["setting", "seeds"], columns=None).reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=list(ALIASES)[:6], choices=list(ALIASES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per model")
    parser.add_argument("--jobs", type=int, default=1, help="models trained at once (separate processes)")
    parser.add_argument("--out", type=Path, help="also write one row per model to this TSV")
    parser.add_argument("--full-grid", action="store_true",
                        help="train Figure 2C's β grid and test claims 1a, 1b, 1c (needs 3 seeds)")
    parser.add_argument("--epochs", type=int, help="with --stacked: override the settings' epochs (smoke tests)")
    parser.add_argument("--stacked", action="store_true",
                        help="train each setting's models of one objective together (scbeta.fit_many)")
    args = parser.parse_args()
    models = FULL_GRID if args.full_grid else MODELS

    tasks = [(ALIASES[name], *model, seed, args.device, args.threads)
             for name in args.settings for seed in args.seeds for model in models]
    results: list[dict[str, Any]] = []

    def record(row: dict[str, Any]) -> None:
        # Written as each model finishes, so that a run stopped early keeps what it measured.
        results.append(row)
        print(pd.DataFrame([row]).round(3).to_string(index=False, header=len(results) == 1), flush=True)
        if args.out is not None:
            pd.DataFrame(results).to_csv(args.out, sep="\t", index=False)

    if args.stacked:
        for name in args.settings:
            for row in train_stacked(ALIASES[name], models, args.seeds, args.device, args.epochs):
                record(row)
            if args.full_grid and len(args.seeds) >= 3:
                print(claim1_verdicts(pd.DataFrame(results), 3).to_markdown(index=False), flush=True)
    elif args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            for future in as_completed([pool.submit(train_one, *task) for task in tasks]):
                record(future.result())
    else:
        for task in tasks:
            record(train_one(*task))
    rows = pd.DataFrame(results)
    print(f"\n{os.environ['OMP_WAIT_POLICY']=}, load average {os.getloadavg()[0]:.1f}, "
          f"{args.threads} thread(s) per model, {args.jobs} at once, device {args.device}")
    print(summary(rows).to_markdown(index=False, floatfmt=".3f"))
    if args.full_grid:
        print(claim1_verdicts(rows, 3 if args.stacked else None).to_markdown(index=False))


if __name__ == "__main__":
    main()
