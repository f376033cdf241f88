"""The steps of `workflow/rules/programs.smk`: every run's gene programs and their recovery of known program
genes, and each dataset's gene-program figure."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from scbeta._io import read_tsv, write_tsv
from scbeta.pipeline import logged, logger
from scbeta.pipeline.evaluate import with_run
from scbeta.pipeline.figures import save_with_note


def _matched_dims(scores: pd.DataFrame) -> pd.DataFrame:
    """Each factor's max |corr| dimension and each identity label's best single dimension, from a run's
    score table: columns `kind` (factor or label), `target`, `dim`, `match` (|corr| or balanced accuracy)."""
    kinds = {"max_abs_corr": "factor", "identity_accuracy": "label"}
    rows = scores[scores["metric"].isin(list(kinds)) & (scores["dim"] >= 0)]
    return pd.DataFrame({"kind": rows["metric"].map(kinds), "target": rows["factor"].astype(str),
                         "dim": rows["dim"].astype(int), "match": rows["value"]}).reset_index(drop=True)


@logged
def programs(*, counts: str, latent: str, scores: str, table: str, top_genes: str, recovery: str,
             span: float, n_cells: int, seed: int, n_top: int, model: str | None = None,
             gene_sets: Sequence[str] = (), gene_set_factors: Sequence[str] = (),
             gene_set_sources: Sequence[str] = ()) -> None:
    """Gene programs of one run's latent dimensions, their top genes, and how well they recover known programs.

    `table`: every dimension × gene (`scbeta.programs.PROGRAM_COLUMNS`): for a VAE the decoder
    traversal's log2 fold change (`scbeta.tl.gene_programs`), for a baseline its loading (the
    loadings the baseline job stored with its latent).
    `top_genes`: the `n_top` genes of the dimension matched to each factor (max |corr|) and each
    identity label (best single dimension), from the run's score table `scores`. `recovery`:
    score-table rows `program_auroc` and `program_ap` per factor with known program genes —
    the simulator's `var["<factor>_gene"]`, or the gene set `gene_sets[i]` of `gene_set_factors[i]`.
    """
    from scbeta import programs as gp

    run_latent = ad.read_h5ad(latent)
    run = dict(run_latent.uns["run"])
    adata = ad.read_h5ad(counts)
    run_scores = read_tsv(scores)
    if model is not None:
        from scbeta.model import load

        program_table = gp.gene_programs(load(Path(model).parent, device="cpu"), adata, span=span,
                                         n_cells=n_cells, seed=seed)
    else:
        if "loadings" not in run_latent.uns:
            raise ValueError(f"{latent}: a baseline latent without its loadings (written by an older scbeta); "
                             "rerun its baseline job, e.g. snakemake --forcerun baseline")
        loadings = np.asarray(run_latent.uns["loadings"], dtype=np.float64)
        program_table = gp.baseline_programs(loadings, adata.var_names)
    logger.info("programs of %d dimensions × %d genes", program_table["dim"].nunique(), adata.n_vars)

    matched = _matched_dims(run_scores)
    top = (matched.merge(program_table[program_table["rank"] <= n_top], on="dim")
           .sort_values(["kind", "target", "rank", "gene"], kind="stable")
           [["kind", "target", "dim", "match", "rank", "gene", "score"]])

    sets = {factor: gp.read_gene_set(path) for factor, path in zip(gene_set_factors, gene_sets)}
    rows = []
    for factor_row in matched[matched["kind"] == "factor"].itertuples():
        truth = gp.program_truth(adata.var, factor_row.target, sets)
        if truth is None:
            continue
        dim_scores = program_table.loc[program_table["dim"] == factor_row.dim, "score"].to_numpy()
        auroc, ap = gp.recovery(dim_scores, truth)
        if np.isnan(auroc):  # all genes, or none, are program genes
            logger.warning("factor %s: %d of %d genes are program genes; no recovery score", factor_row.target,
                           int(truth.sum()), truth.size)
            continue
        logger.info("factor %s, dim %d: %d program genes, AUROC %.3f, AP %.3f", factor_row.target, factor_row.dim,
                    int(truth.sum()), auroc, ap)
        rows += [("program_auroc", factor_row.target, factor_row.dim, auroc),
                 ("program_ap", factor_row.target, factor_row.dim, ap)]
    recovery_table = with_run(pd.DataFrame(rows, columns=["metric", "factor", "dim", "value"]), run)

    settings = {"run": run["run"], "span": span, "n_cells": n_cells, "seed": seed, "n_top": n_top,
                "gene_sets": {f: {"path": p, "source": s} for f, p, s in zip(gene_set_factors, gene_sets,
                                                                             gene_set_sources)}}
    write_tsv(program_table, table, settings)
    write_tsv(top, top_genes, settings)
    write_tsv(recovery_table, recovery, settings)


def known_program_genes(var: pd.DataFrame, factors: Sequence[str],
                        gene_sets: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Factor → its known program genes among the genes of `var` (`scbeta.programs.program_truth`: the
    simulator's `var["<factor>_gene"]`, else the factor's gene set), for the `factors` that have any."""
    from scbeta import programs as gp

    known = {}
    for factor in factors:
        truth = gp.program_truth(var, factor, gene_sets)
        if truth is not None and truth.any():
            known[factor] = list(var.index[truth])
    return known


@logged
def programs_figure(*, table: str, programs: list[str], png: str, pdf: str, counts: str | None = None,
                    gene_sets: Sequence[str] = (), gene_set_factors: Sequence[str] = (), n_genes_per_dim: int = 2,
                    reduced: str = "") -> None:
    """The dataset's gene-program figure: top genes per dimension at each β, beside the known programs of
    those genes (from `counts` and the gene set `gene_sets[i]` of `gene_set_factors[i]`), and program
    recovery against β; `reduced` (a reduced configuration's note) goes under its title and into its metadata."""
    from scbeta import plots
    from scbeta import programs as gp

    metric_table = read_tsv(table)
    program_genes = {}
    if counts is not None:
        scored = metric_table[metric_table["metric"].isin(["max_abs_corr", "program_auroc"])]
        factors = list(dict.fromkeys([*scored["factor"].dropna().astype(str), *gene_set_factors]))
        sets = {factor: gp.read_gene_set(path) for factor, path in zip(gene_set_factors, gene_sets)}
        cells = ad.read_h5ad(counts, backed="r")  # only the genes' annotations are needed, not the matrix
        try:
            program_genes = known_program_genes(cells.var, factors, sets)
        finally:
            cells.file.close()
    fig = plots.programs_figure(metric_table, {Path(p).stem: read_tsv(p) for p in programs},
                                n_genes_per_dim=n_genes_per_dim, program_genes=program_genes)
    save_with_note(fig, [png, pdf], reduced)
