rule download_kang2018:
    input:
        local_files=kang2018_local_files,
    output:
        files=kang2018_files(),
    log:
        "results/logs/{dataset}/download.log",
    benchmark:
        "results/benchmarks/{dataset}/download.tsv"
    wildcard_constraints:
        dataset=datasets_from("kang2018"),
    params:
        base_url=dataset_value("base_url"),
        local_dir=dataset_value("local_dir"),
    resources:
        mem_mb=1000,
        runtime=120,
    conda:
        "../../envs/download.yaml"
    script:
        "../scripts/download_kang2018.py"


rule prepare_kang2018:
    input:
        files=kang2018_files(),
    output:
        counts="results/{dataset}/counts.h5ad",
    log:
        "results/logs/{dataset}/prepare.log",
    benchmark:
        "results/benchmarks/{dataset}/prepare.tsv"
    wildcard_constraints:
        dataset=datasets_from("kang2018"),
    params:
        n_top_genes=dataset_value("n_top_genes"),
        max_cells=dataset_value("max_cells"),
        subsample_seed=dataset_value("subsample_seed", default=0),
    resources:
        mem_mb=16000,
        runtime=60,
    conda:
        "../../envs/download.yaml"
    script:
        "../scripts/prepare_kang2018.py"


rule import_h5ad:
    input:
        path=dataset_value("path"),
    output:
        counts="results/{dataset}/counts.h5ad",
    log:
        "results/logs/{dataset}/import.log",
    benchmark:
        "results/benchmarks/{dataset}/import.tsv"
    wildcard_constraints:
        dataset=datasets_from("h5ad"),
    params:
        name="{dataset}",
        layer=dataset_value("layer"),
        factors=dataset_factors,
        identity=dataset_value("identity"),
        max_cells=dataset_value("max_cells"),
        subsample_seed=dataset_value("subsample_seed", default=0),
    resources:
        mem_mb=16000,
        runtime=60,
    conda:
        "../../envs/scbeta.yaml"
    script:
        "../scripts/import_h5ad.py"
