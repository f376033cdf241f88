rule train:
    input:
        counts="results/{dataset}/counts.h5ad",
    output:
        model="results/{dataset}/models/{run}/model.pt",
        history=report(
            "results/{dataset}/models/{run}/history.tsv",
            caption="../report/history.rst",
            category="Training",
            subcategory="{dataset}",
        ),
    log:
        "results/logs/{dataset}/train/{run}.log",
    benchmark:
        "results/benchmarks/{dataset}/train/{run}.tsv"
    params:
        run=run_params,
        training=training_params,
        checkpoint="results/{dataset}/checkpoints/{run}",
    threads: training_threads()
    resources:
        mem_mb=8000,
        runtime=240,
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
