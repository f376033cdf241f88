# Figure 2 shows the first simulated dataset (when one is enabled); every real dataset with
# cell-type labels and β-VAE runs gets its own Figure 3.
if figure2_dataset() is not None:

    rule figure2:
        input:
            embedding=figure2_input("embedding.h5ad"),
            table=figure2_input("metrics/all.tsv"),
            latents=figure2_latents,
        output:
            png=report("results/figures/figure2.png", caption="../report/figure2.rst", category="Figure 2"),
            pdf="results/figures/figure2.pdf",
        log:
            "results/logs/figures/figure2.log",
        benchmark:
            "results/benchmarks/figures/figure2.tsv"
        params:
            reduced=reduced_note(),
        resources:
            mem_mb=4000,
            runtime=20,
        conda:
            "../../envs/scbeta.yaml"
        script:
            "../scripts/figure2.py"


rule figure3:
    input:
        embedding="results/{dataset}/embedding.h5ad",
        table="results/{dataset}/metrics/all.tsv",
        latents=figure3_latents,
    output:
        png=report(
            "results/figures/figure3_{dataset}.png",
            caption="../report/figure3.rst",
            category="Figure 3",
            subcategory="{dataset}",
        ),
        pdf="results/figures/figure3_{dataset}.pdf",
    log:
        "results/logs/figures/figure3_{dataset}.log",
    benchmark:
        "results/benchmarks/figures/figure3_{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(figure3_datasets()) or "$^",
    params:
        identity=dataset_value("identity"),
        stimulation=figure3_stimulation,
        targets=figure3_targets(),
        reduced=reduced_note(),
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        "../../envs/scbeta.yaml"
    script:
        "../scripts/figure3.py"


rule summary_figures:
    input:
        tables=expand("results/{dataset}/metrics/all.tsv", dataset=DATASETS),
    output:
        tradeoff_png=report(
            "results/figures/tradeoff.png", caption="../report/tradeoff.rst", category="Summary figures"
        ),
        tradeoff_pdf="results/figures/tradeoff.pdf",
        metrics_png=report(
            "results/figures/metrics_by_beta.png", caption="../report/metrics_by_beta.rst", category="Summary figures"
        ),
        metrics_pdf="results/figures/metrics_by_beta.pdf",
    log:
        "results/logs/figures/summary.log",
    benchmark:
        "results/benchmarks/figures/summary.tsv"
    params:
        reduced=reduced_note(),
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        "../../envs/scbeta.yaml"
    script:
        "../scripts/summary_figures.py"
