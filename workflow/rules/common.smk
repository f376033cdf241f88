import os
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("8.20")

# Rules import the package from this checkout, also inside --sdm conda environments.
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])))

import yaml

from scbeta.config import (
    check_datasets,
    check_figures,
    coerce_numbers,
    enabled_datasets,
    expand_runs,
    factor_names,
    factor_types,
    figure_runs,
    group_runs,
    reduced_configuration,
    training_keywords,
    training_runs,
    validate,
)
from scbeta._io import resolve_path
from scbeta.programs import resolve_gene_set_path
from scbeta.download import KANG2018_FILES
from scbeta.registry import BASELINES, OBJECTIVES, REAL_SOURCES, SIMULATED_SOURCES, is_beta_vae

SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
coerce_numbers(config, SCHEMA)
validate(config, SCHEMA)
check_datasets(config)

# Runs of a dataset train in groups (one job each) of at most training.models_per_job models.
RUNS = group_runs(expand_runs(config), config["training"]["models_per_job"])
DATASETS = enabled_datasets(config)
# The defaults the study's size is judged against: config.yaml as shipped, before any --configfile.
DEFAULT_CONFIG = yaml.safe_load((Path(workflow.basedir) / "config.yaml").read_text())
# Run names tell whether a latent comes from a trained model or from a classical baseline.
VAE_RUN = "(" + "|".join(OBJECTIVES) + r")_[A-Za-z0-9_.\-]+"
BASELINE_RUN = "(" + "|".join(BASELINES) + r")_seed[0-9]+"


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
    """The run's row of the sweep table as a dict (method, objective, beta, c_max, gamma, seed, objective_params).

    Without its training group, so that regrouping (training.models_per_job) reruns no latent.
    """
    rows = RUNS[(RUNS["dataset"] == wildcards.dataset) & (RUNS["run"] == wildcards.run)]
    if rows.empty:
        raise ValueError(f"run {wildcards.run!r} is not in the sweep of dataset {wildcards.dataset!r}")
    return rows.iloc[0].drop("group").to_dict()


def training_groups():
    """(dataset, group, the group's rows of the sweep table) for every training job, in sweep order."""
    vae = RUNS[RUNS["group"] != ""]
    return [(dataset, group, rows) for (dataset, group), rows in vae.groupby(["dataset", "group"], sort=False)]


def training_rule_name(dataset, group):
    """The name of the rule that trains `group` of `dataset`, e.g. train_simulated_beta_g0."""
    return f"train_{dataset.replace('-', '_')}_{group}"


def training_params():
    """Keywords for scbeta.fit_many from the config's `training` section."""
    return training_keywords(config)


def training_runtime(n_models):
    """Minutes a SLURM job may take to train `n_models` models: four hours each."""
    return 240 * n_models


def reduced_note():
    """How this run is smaller than the default study ("" if it is not): heads claims, report and figures."""
    return reduced_configuration(DEFAULT_CONFIG, config)


def training_gpus():
    """GPUs a training job asks the cluster for: one when training runs on CUDA, else none."""
    return int(config["training"]["device"].startswith("cuda"))


def training_threads():
    return config["training"]["threads"]


def simulation_params(wildcards):
    return dataset_spec(wildcards.dataset)["simulate"]


def dataset_value(key, default=None):
    """An input/params function giving the dataset's config value `key` (`default` where it is not set)."""

    def value(wildcards):
        return dataset_spec(wildcards.dataset).get(key, default)

    return value


def dataset_factors(wildcards):
    """The dataset's factor columns (the keys where `factors` declares their types)."""
    return factor_names(dataset_spec(wildcards.dataset))


def dataset_factor_types(wildcards):
    """Factor name → declared type (categorical or numeric); empty where `factors` is a bare list."""
    return factor_types(dataset_spec(wildcards.dataset))


def collect_settings(wildcards):
    """The config a dataset's metric table comes from: its dataset entry, training and evaluation."""
    return {
        "dataset": wildcards.dataset,
        "datasets": {wildcards.dataset: dataset_spec(wildcards.dataset)},
        "training": config["training"],
        "evaluation": config["evaluation"],
    }


def kang2018_local_files(wildcards):
    """The six files in the dataset's `local_dir`, if it has one: a changed file there is copied again."""
    local_dir = dataset_spec(wildcards.dataset).get("local_dir")
    return [os.path.join(local_dir, name) for name in KANG2018_FILES] if local_dir else []


def kang2018_files():
    """The six GEO files of Kang et al. (2018), stored flat under resources/<dataset>/."""
    return expand("resources/{{dataset}}/{name}", name=list(KANG2018_FILES))


def latent_size():
    return config["training"]["n_latent"]


def leiden_resolutions():
    return config["evaluation"]["resolutions"]


def correlation_method():
    return config["evaluation"]["correlation"]


def n_neighbors():
    return config["evaluation"]["n_neighbors"]


def neighbors_method():
    return config["evaluation"]["neighbors_method"]


def embedding_seed():
    return config["evaluation"]["embedding_seed"]


def score_files(wildcards):
    return expand(
        "results/{dataset}/metrics/runs/{run}.tsv", dataset=wildcards.dataset, run=runs_of(wildcards.dataset)["run"]
    )


def figure2_dataset():
    """The first enabled simulated dataset: the one Figure 2 shows."""
    return first_dataset(*SIMULATED_SOURCES)


def figure2_input(name):
    """A file of the Figure-2 dataset, `name` relative to its results folder."""
    return f"results/{figure2_dataset()}/{name}"


def figure_latents(dataset):
    """The β-VAE latents a dataset's figure shows (its figure_betas, first seed; scbeta.config.figure_runs)."""
    return expand("results/{dataset}/latents/{run}.h5ad", dataset=dataset, run=figure_runs(config, RUNS, dataset))


def figure2_latents(wildcards):
    """Panel D: the Figure-2 dataset's figure latents."""
    return figure_latents(figure2_dataset())


def first_dataset(*sources):
    """The first enabled dataset whose source is one of `sources`, or None."""
    return next((d for d in DATASETS if config["datasets"][d]["source"] in sources), None)


def claims_roles():
    """The datasets the claims are checked on, by role: the first simulated and the first real one, where enabled."""
    roles = {"simulated": first_dataset(*SIMULATED_SOURCES), "real": first_dataset(*REAL_SOURCES)}
    return {role: dataset for role, dataset in roles.items() if dataset is not None}


def claims_inputs(wildcards):
    """The metric tables the claims are checked on, by role (simulated, real)."""
    return {role: f"results/{dataset}/metrics/all.tsv" for role, dataset in claims_roles().items()}


def claims_counts(wildcards):
    """The counts the claims' datasets were trained on (their cells and genes go into claims.md)."""
    return [f"results/{dataset}/counts.h5ad" for dataset in claims_roles().values()]


def claims_datasets():
    """Name → config entry of the claims' datasets, in the order of `claims_counts`."""
    return {dataset: dataset_spec(dataset) for dataset in claims_roles().values()}


def reference_folder():
    """The folder of the full-size reference (`reference` in the config), or None for no comparison."""
    return resolve_path(config["reference"], workflow.basedir) if config.get("reference") else None


def reference_table(wildcards):
    """The reference's claims table, where it exists: a changed reference reruns the claims."""
    folder = reference_folder()
    table = os.path.join(folder, "claims.tsv") if folder else None
    return [table] if table and os.path.isfile(table) else []


def figure3_datasets():
    """The real datasets (Kang et al. 2018 and users' .h5ad) with cell-type labels and β-VAE runs: each gets
    a Figure 3, whose panels are over the β of the β-VAE."""
    return [
        d
        for d in DATASETS
        if dataset_spec(d)["source"] in REAL_SOURCES
        and dataset_spec(d).get("identity")
        and is_beta_vae(runs_of(d)).any()
    ]


def figure3_stimulation(wildcards):
    """The experimental factor of Figure 3B and 3E: the dataset's first factor not declared categorical."""
    spec = dataset_spec(wildcards.dataset)
    types = factor_types(spec)
    names = factor_names(spec)
    return next((name for name in names if types.get(name) != "categorical"), names[0])


def figure3_targets():
    return config.get("figures", {}).get("figure3_targets", [])


def figure3_latents(wildcards):
    """Panel E: the dataset's figure latents."""
    return figure_latents(wildcards.dataset)


def gene_set_entries(dataset):
    """The dataset's configured gene sets: factor → {path, source}."""
    return dataset_spec(dataset).get("gene_sets") or {}


def gene_set_files(wildcards):
    """The dataset's gene-set files, in the order of `gene_set_entries`."""
    return [
        resolve_gene_set_path(entry["path"], workflow.basedir) for entry in gene_set_entries(wildcards.dataset).values()
    ]


def program_inputs(wildcards):
    """A run's counts, latent and score table, its model for a VAE, and the dataset's gene-set files."""
    inputs = {
        "counts": f"results/{wildcards.dataset}/counts.h5ad",
        "latent": f"results/{wildcards.dataset}/latents/{wildcards.run}.h5ad",
        "scores": f"results/{wildcards.dataset}/metrics/runs/{wildcards.run}.tsv",
        "gene_sets": gene_set_files(wildcards),
    }
    if run_params(wildcards)["method"] == "vae":
        inputs["model"] = f"results/{wildcards.dataset}/models/{wildcards.run}/model.pt"
    return inputs


def program_recovery_files(wildcards):
    return expand(
        "results/{dataset}/programs/recovery/{run}.tsv",
        dataset=wildcards.dataset,
        run=runs_of(wildcards.dataset)["run"],
    )


def programs_figure_datasets():
    """Datasets with β-VAE runs (C_max = 0): each gets a gene-program figure over their β."""
    return [d for d in DATASETS if is_beta_vae(runs_of(d)).any()]


def programs_figure_tables(wildcards):
    """The program tables of the β-VAE runs (C_max = 0) of the first seed, one per β."""
    runs = runs_of(wildcards.dataset)
    chosen = runs[is_beta_vae(runs) & (runs["seed"] == runs["seed"].min())]
    return expand("results/{dataset}/programs/{run}.tsv", dataset=wildcards.dataset, run=chosen["run"])


check_figures(config, RUNS, figure2_dataset(), figure3_datasets())


def all_targets():
    targets = [f"results/{d}/metrics/all.tsv" for d in DATASETS]
    targets += ["results/claims.md", "results/claims.html", "results/provenance/versions.tsv"]
    if figure2_dataset() is not None:
        targets += ["results/figures/figure2.png", "results/figures/figure2.pdf"]
    targets += expand("results/figures/figure3_{dataset}.{ext}", dataset=figure3_datasets(), ext=["png", "pdf"])
    targets += expand(
        "results/figures/programs_{dataset}.{ext}", dataset=programs_figure_datasets(), ext=["png", "pdf"]
    )
    if DATASETS:
        targets += ["results/figures/tradeoff.png", "results/figures/metrics_by_beta.png"]
    return targets
