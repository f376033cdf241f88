rule embed:
    input:
        counts="results/{dataset}/counts.h5ad",
    output:
        embedding="results/{dataset}/embedding.h5ad",
    log:
        "results/logs/{dataset}/embed.log",
    benchmark:
        "results/benchmarks/{dataset}/embed.tsv"
    params:
        seed=embedding_seed(),
        n_neighbors=n_neighbors(),
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../../envs/scbeta.yaml"
    script:
        "../scripts/embed.py"


rule score:
    input:
        latent="results/{dataset}/latents/{run}.h5ad",
    output:
        scores="results/{dataset}/metrics/runs/{run}.tsv",
    log:
        "results/logs/{dataset}/score/{run}.log",
    benchmark:
        "results/benchmarks/{dataset}/score/{run}.tsv"
    params:
        factors=dataset_factors,
        factor_types=dataset_factor_types,
        identity=dataset_value("identity"),
        correlation=correlation_method(),
        resolutions=leiden_resolutions(),
        n_neighbors=n_neighbors(),
        neighbors_method=neighbors_method(),
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/scbeta.yaml"
    script:
        "../scripts/score.py"


rule collect:
    input:
        scores=lambda wildcards: score_files(wildcards) + program_recovery_files(wildcards),
    output:
        table=report(
            "results/{dataset}/metrics/all.tsv",
            caption="../report/metrics.rst",
            category="Metric tables",
            subcategory="{dataset}",
        ),
        max_abs_corr_table=report(
            "results/{dataset}/metrics/max_abs_corr.tsv",
            caption="../report/max_abs_corr.rst",
            category="Metric tables",
            subcategory="{dataset}",
        ),
        collapse=report(
            "results/{dataset}/metrics/collapse.tsv",
            caption="../report/collapse.rst",
            category="Metric tables",
            subcategory="{dataset}",
        ),
    log:
        "results/logs/{dataset}/collect.log",
    benchmark:
        "results/benchmarks/{dataset}/collect.tsv"
    params:
        settings=collect_settings,
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/scbeta.yaml"
    script:
        "../scripts/collect.py"
