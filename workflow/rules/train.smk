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
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/train.py"


rule latent:
    input:
        counts="results/{dataset}/counts.h5ad",
        model="results/{dataset}/models/{run}/model.pt",
    output:
        latent="results/{dataset}/latents/{run}.h5ad",
    log:
        "results/logs/{dataset}/latent/{run}.log",
    benchmark:
        "results/benchmarks/{dataset}/latent/{run}.tsv"
    params:
        run=run_params,
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/latent.py"
