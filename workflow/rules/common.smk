import os
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("8.20")

# Rules import the package from this checkout, also inside --sdm conda environments.
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))

from scbeta.config import enabled_datasets, expand_runs, validate

validate(config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")

RUNS = expand_runs(config)
DATASETS = enabled_datasets(config)


wildcard_constraints:
    dataset="|".join(DATASETS) or "$^",
    run=r"[A-Za-z0-9_.\-]+",


def datasets_from(source):
    """Regex of the enabled datasets whose counts come from `source`."""
    names = [d for d in DATASETS if config["datasets"][d]["source"] == source]
    return "|".join(names) or "$^"


def dataset_spec(dataset):
    return config["datasets"][dataset]


def runs_of(dataset):
    return RUNS[RUNS["dataset"] == dataset]


def run_params(wildcards):
    """The run's row of the sweep table as a dict (method, objective, beta, c_max, gamma, seed)."""
    rows = RUNS[(RUNS["dataset"] == wildcards.dataset) & (RUNS["run"] == wildcards.run)]
    if rows.empty:
        raise ValueError(f"run {wildcards.run!r} is not in the sweep of dataset {wildcards.dataset!r}")
    return rows.iloc[0].to_dict()


def training_params(wildcards):
    """Keywords for scbeta.fit from the config's `training` section."""
    return {k: v for k, v in config["training"].items() if k not in ("threads", "device")} | {
        "device": config["training"]["device"]
    }


def training_threads():
    return config["training"]["threads"]


def simulation_params(wildcards):
    return dataset_spec(wildcards.dataset)["simulate"]


def dataset_factors(wildcards):
    return dataset_spec(wildcards.dataset)["factors"]


def correlation_method():
    return config["evaluation"]["correlation"]


def n_neighbors():
    return config["evaluation"]["n_neighbors"]


def embedding_seed():
    return config["evaluation"]["embedding_seed"]


def score_files(wildcards):
    return expand(
        "results/{dataset}/metrics/runs/{run}.tsv", dataset=wildcards.dataset, run=runs_of(wildcards.dataset)["run"]
    )


def figure2_dataset():
    """The first enabled simulated dataset: the one Figure 2 shows."""
    names = [d for d in DATASETS if config["datasets"][d]["source"] == "simulate"]
    return names[0] if names else None


def figure2_input(name):
    """A file of the Figure-2 dataset, `name` relative to its results folder."""
    return f"results/{figure2_dataset()}/{name}"


def figure2_latents(wildcards):
    """Panel D: the β-VAE latents (C_max = 0, first seed) at the configured β values."""
    dataset = figure2_dataset()
    runs = runs_of(dataset)
    first_seed = runs["seed"].min()
    chosen = runs[
        (runs["objective"] == "beta")
        & (runs["c_max"] == 0)
        & (runs["seed"] == first_seed)
        & runs["beta"].isin(config["figures"]["figure2_betas"])
    ]
    return expand("results/{dataset}/latents/{run}.h5ad", dataset=dataset, run=chosen["run"])


def all_targets():
    targets = [f"results/{d}/metrics/all.tsv" for d in DATASETS]
    if figure2_dataset() is not None:
        targets += ["results/figures/figure2.png", "results/figures/figure2.pdf"]
    return targets
