# One job per group of runs (training.models_per_job models of one objective; see
# scbeta.config.group_runs): one rule each, named train_<dataset>_<group>, whose outputs are its
# models' usual files, so that asking for any one model builds its group.
for dataset, group, members in training_groups():

    rule:
        name:
            training_rule_name(dataset, group)
        input:
            counts=f"results/{dataset}/counts.h5ad",
        output:
            models=expand("results/{dataset}/models/{run}/model.pt", dataset=dataset, run=members["run"]),
            histories=[
                report(path, caption="../report/history.rst", category="Training", subcategory=dataset)
                for path in expand("results/{dataset}/models/{run}/history.tsv", dataset=dataset, run=members["run"])
            ],
        log:
            f"results/logs/{dataset}/train/{group}.log",
        benchmark:
            f"results/benchmarks/{dataset}/train/{group}.tsv"
        params:
            runs=training_runs(members),
            training=training_params(),
            checkpoint=f"results/{dataset}/checkpoints/{group}",
        threads: training_threads()
        resources:
            mem_mb=8000,
            runtime=training_runtime(len(members)),
            gpu=training_gpus(),
        conda:
            "../../envs/torch.yaml"
        script:
            "../scripts/train.py"


rule latent:
    input:
        counts="results/{dataset}/counts.h5ad",
        model="results/{dataset}/models/{run}/model.pt",
        history="results/{dataset}/models/{run}/history.tsv",
    output:
        latent="results/{dataset}/latents/{run}.h5ad",
    log:
        "results/logs/{dataset}/latent/{run}.log",
    benchmark:
        "results/benchmarks/{dataset}/latent/{run}.tsv"
    wildcard_constraints:
        run=VAE_RUN,
    params:
        run=run_params,
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/latent.py"


rule baseline:
    input:
        counts="results/{dataset}/counts.h5ad",
    output:
        latent="results/{dataset}/latents/{run}.h5ad",
    log:
        "results/logs/{dataset}/baseline/{run}.log",
    benchmark:
        "results/benchmarks/{dataset}/baseline/{run}.tsv"
    wildcard_constraints:
        run=BASELINE_RUN,
    params:
        run=run_params,
        n_components=latent_size(),
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/scbeta.yaml"
    script:
        "../scripts/baseline.py"
