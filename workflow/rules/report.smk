rule claims:
    input:
        unpack(claims_inputs),
        counts=claims_counts,
        reference_table=reference_table,
    output:
        markdown="results/claims.md",
        html=report("results/claims.html", caption="../report/claims.rst", category="Claims"),
        table=report("results/claims.tsv", caption="../report/claims_table.rst", category="Claims"),
        summary="results/claims_summary.rst",
    log:
        "results/logs/claims.log",
    benchmark:
        "results/benchmarks/claims.tsv"
    params:
        reduced=reduced_note(),
        datasets=claims_datasets(),
        reference=reference_folder(),
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/scbeta.yaml"
    script:
        "../scripts/claims.py"


rule provenance:
    output:
        versions=report("results/provenance/versions.tsv", caption="../report/versions.rst", category="Provenance"),
        config_used=report("results/provenance/config.yaml", caption="../report/config.rst", category="Provenance"),
    log:
        "results/logs/provenance.log",
    benchmark:
        "results/benchmarks/provenance.tsv"
    params:
        config=config,
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/scbeta.yaml"
    script:
        "../scripts/provenance.py"
