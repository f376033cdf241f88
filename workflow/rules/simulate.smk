rule simulate:
    output:
        counts="results/{dataset}/counts.h5ad",
    log:
        "results/logs/{dataset}/simulate.log",
    benchmark:
        "results/benchmarks/{dataset}/simulate.tsv"
    wildcard_constraints:
        dataset=datasets_from("simulate"),
    params:
        params=simulation_params,
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../../envs/scbeta.yaml"
    script:
        "../scripts/simulate.py"
