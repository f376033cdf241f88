# Gene programs of every run (decoder traversal for a VAE, loadings for a baseline), how well the
# dimension matched to each factor recovers its known program genes (rows that `collect` adds to
# the dataset's metric table), and one figure per dataset with β-VAE runs.

from scbeta.programs import check_gene_sets

check_gene_sets(config, workflow.basedir)


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
