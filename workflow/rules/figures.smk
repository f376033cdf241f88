rule figure2:
    input:
        embedding=figure2_input("embedding.h5ad"),
        max_abs_corr_table=figure2_input("metrics/max_abs_corr.tsv"),
        latents=figure2_latents,
    output:
        png=report("results/figures/figure2.png", caption="../report/figure2.rst", category="Figures"),
        pdf="results/figures/figure2.pdf",
    log:
        "results/logs/figures/figure2.log",
    benchmark:
        "results/benchmarks/figures/figure2.tsv"
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        "../../envs/scbeta.yaml"
    script:
        "../scripts/figure2.py"
