# Gene programs of every run (decoder traversal for a VAE, loadings for a baseline), how well the
# dimension matched to each factor recovers its known program genes (rows that `collect` adds to
# the dataset's metric table), and one figure per dataset with β-VAE runs.

from scbeta.programs import check_gene_sets, resolve_gene_set_path

check_gene_sets(config, workflow.basedir)


def gene_set_entries(dataset):
    """The dataset's configured gene sets: factor → {path, source}."""
    return dataset_spec(dataset).get("gene_sets") or {}


def gene_set_files(wildcards):
    """The dataset's gene-set files, in the order of `gene_set_entries`."""
    return [
        resolve_gene_set_path(entry["path"], workflow.basedir)
        for entry in gene_set_entries(wildcards.dataset).values()
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
    return [
        d for d in DATASETS if is_beta_vae(runs_of(d)).any()
    ]


def programs_figure_tables(wildcards):
    """The program tables of the β-VAE runs (C_max = 0) of the first seed, one per β."""
    runs = runs_of(wildcards.dataset)
    chosen = runs[is_beta_vae(runs) & (runs["seed"] == runs["seed"].min())]
    return expand("results/{dataset}/programs/{run}.tsv", dataset=wildcards.dataset, run=chosen["run"])


rule programs:
    input:
        unpack(program_inputs),
    output:
        table="results/{dataset}/programs/{run}.tsv",
        top_genes=report(
            "results/{dataset}/programs/top_genes/{run}.tsv",
            caption="../report/programs_top_genes.rst",
            category="Gene programs",
            subcategory="{dataset}",
        ),
        recovery="results/{dataset}/programs/recovery/{run}.tsv",
    log:
        "results/logs/{dataset}/programs/{run}.log",
    benchmark:
        "results/benchmarks/{dataset}/programs/{run}.tsv"
    params:
        span=config["programs"]["span"],
        n_cells=config["programs"]["n_cells"],
        seed=config["programs"]["seed"],
        n_top=config["programs"]["n_top"],
        gene_set_factors=lambda wildcards: list(gene_set_entries(wildcards.dataset)),
        gene_set_sources=lambda wildcards: [e["source"] for e in gene_set_entries(wildcards.dataset).values()],
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/programs.py"


rule programs_figure:
    input:
        table="results/{dataset}/metrics/all.tsv",
        programs=programs_figure_tables,
        counts="results/{dataset}/counts.h5ad",  # its genes, and the simulator's program genes
        gene_sets=gene_set_files,
    output:
        png=report(
            "results/figures/programs_{dataset}.png",
            caption="../report/programs.rst",
            category="Gene programs",
            subcategory="{dataset}",
        ),
        pdf="results/figures/programs_{dataset}.pdf",
    log:
        "results/logs/figures/programs_{dataset}.log",
    benchmark:
        "results/benchmarks/figures/programs_{dataset}.tsv"
    params:
        n_genes_per_dim=config["programs"]["figure_genes_per_dim"],
        gene_set_factors=lambda wildcards: list(gene_set_entries(wildcards.dataset)),
        reduced=reduced_note(),
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        "../../envs/scbeta.yaml"
    script:
        "../scripts/programs_figure.py"
