"""One function per workflow rule: read the rule's inputs, call the package, write its outputs.

Each takes the rule's named inputs, outputs and params as keywords (see `rule_args`) and a
`log` path that receives the package's log lines. Snakemake scripts in `workflow/scripts/`
are one call into this module.
"""
from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from scbeta import __version__
from scbeta._io import atomic_path, read_tsv, save_figure, write_h5ad, write_tsv
from scbeta.config import RUN_COLUMNS
from scbeta.data import counts_matrix
from scbeta.metrics import max_abs_corr

logger = logging.getLogger("scbeta")

DEFAULT_RESOLUTIONS = (0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0)


def rule_args(smk: Any) -> dict[str, Any]:
    """The named inputs, outputs and params of a Snakemake job, its log and threads, as one dict."""
    args: dict[str, Any] = {}
    for namedlist in (smk.input, smk.output, smk.params):
        args.update(dict(namedlist.items()))
    args["log"] = smk.log[0] if len(smk.log) else None
    args["threads"] = smk.threads
    return args


def limit_threads(threads: int) -> None:
    """Let torch, BLAS and OpenMP in this process use at most `threads` threads (the job's share of the cores)."""
    from threadpoolctl import threadpool_limits

    threads = max(1, int(threads))
    # torch reads OMP_NUM_THREADS when it is first imported; set it too where it already is.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    threadpool_limits(limits=threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def logged(step: Callable[..., None]) -> Callable[..., None]:
    """Send the `scbeta` logger to the file `log` (and stderr) while `step` runs; log its duration.

    The step runs with at most `threads` threads (see `limit_threads`).
    """

    @functools.wraps(step)
    def wrapper(*, log: str | None = None, threads: int = 1, **kwargs: Any) -> None:
        handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
        if log is not None:
            Path(log).parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(log, mode="w"))
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
        for handler in handlers:
            handler.setFormatter(formatter)
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        limit_threads(threads)
        tic = time.perf_counter()
        logger.info("scbeta %s: %s", __version__, step.__name__)
        try:
            step(**kwargs)
        except Exception:
            logger.exception("%s failed", step.__name__)
            raise
        finally:
            for handler in handlers:
                logger.removeHandler(handler)
                handler.close()
        logger.info("%s done in %.1f s", step.__name__, time.perf_counter() - tic)

    return wrapper


@logged
def simulate(*, counts: str, params: Mapping[str, Any]) -> None:
    """Simulate a count matrix with `scbeta.simulate.simulate_counts(**params)`."""
    from scbeta.simulate import simulate_counts

    adata = simulate_counts(**params)
    logger.info("simulated %d cells × %d genes, %.1f%% zeros", adata.n_obs, adata.n_vars,
                100 * (1 - adata.X.nnz / (adata.n_obs * adata.n_vars)))
    write_h5ad(adata, counts, {"simulate": dict(params)})


@logged
def download_kang2018(*, files: list[str], base_url: str, local_dir: str | None = None) -> None:
    """Fetch the six GEO files of Kang et al. (2018) into the folder of `files`, checked against its MANIFEST.tsv."""
    from scbeta.download import fetch_kang2018

    fetch_kang2018(Path(files[0]).parent, base_url=base_url, local_dir=local_dir)


@logged
def prepare_kang2018(*, files: list[str], counts: str, n_top_genes: int, max_cells: int | None = None,
                     subsample_seed: int = 0) -> None:
    """Parse the GEO files into one AnnData of singlets with a cell type (at most `max_cells`), on the most
    variable genes."""
    from scbeta.data import prepare_kang2018 as prepare
    from scbeta.data import read_kang2018

    cells = read_kang2018(Path(files[0]).parent)
    logger.info("read %d cells × %d genes", cells.n_obs, cells.n_vars)
    prepared = prepare(cells, n_top_genes=n_top_genes, max_cells=max_cells, seed=subsample_seed)
    logger.info("kept %d singlets with a cell type, %d highly variable genes", prepared.n_obs, prepared.n_vars)
    write_h5ad(prepared, counts, {"n_top_genes": n_top_genes, "max_cells": max_cells,
                                  "subsample_seed": subsample_seed})


@logged
def import_h5ad(*, path: str, counts: str, name: str, layer: str | None = None, factors: list[str] = (),
                identity: str | None = None, max_cells: int | None = None, subsample_seed: int = 0) -> None:
    """Copy a user's AnnData of raw counts (at most `max_cells` cells) into the workflow, after checking
    its counts and columns."""
    from scbeta.data import read_dataset_h5ad, subsample_cells

    adata = read_dataset_h5ad(path, layer=layer, factors=factors, identity=identity, name=name)
    empty = np.asarray(adata.X.sum(axis=1)).ravel() == 0
    if empty.any():
        logger.warning("dropping %d cells without counts", int(empty.sum()))
        adata = adata[~empty].copy()
    adata = subsample_cells(adata, max_cells, subsample_seed)
    logger.info("imported %d cells × %d genes", adata.n_obs, adata.n_vars)
    write_h5ad(adata, counts, {"path": path, "layer": layer, "max_cells": max_cells, "subsample_seed": subsample_seed})


@logged
def train(*, counts: str, model: str, history: str, checkpoint: str, run: Mapping[str, Any],
          training: Mapping[str, Any]) -> None:
    """Fit one model of the sweep and save it into the folder of `model` (with `history`)."""
    from scbeta.model import fit

    adata = ad.read_h5ad(counts)
    training = dict(training)
    objective_params = dict(run.get("objective_params") or {})
    if run["objective"] == "factorvae":
        objective_params["gamma"] = run["gamma"]
    fitted = fit(adata, objective=run["objective"], beta=run["beta"], c_max=run["c_max"], seed=int(run["seed"]),
                 checkpoint=checkpoint, objective_params=objective_params, **training)
    fitted.save(Path(model).parent)


def _latent_adata(adata: ad.AnnData, latent: np.ndarray, run: Mapping[str, Any]) -> ad.AnnData:
    out = ad.AnnData(obs=adata.obs.copy())
    out.obsm["X_latent"] = np.asarray(latent, dtype=np.float32)
    out.uns["run"] = {key: run[key] for key in RUN_COLUMNS}
    return out


@logged
def latent(*, counts: str, model: str, latent: str, run: Mapping[str, Any]) -> None:
    """Posterior means of every cell under a trained model, in `obsm["X_latent"]` of `latent`."""
    from scbeta.model import load

    adata = ad.read_h5ad(counts)
    fitted = load(Path(model).parent)
    write_h5ad(_latent_adata(adata, fitted.latent(adata), run), latent, dict(run))


@logged
def baseline(*, counts: str, latent: str, run: Mapping[str, Any], n_components: int) -> None:
    """A classical baseline (PCA, FastICA or NMF on log-normalised counts) as a latent of `n_components` dims."""
    from scbeta.baselines import fit_baseline

    adata = ad.read_h5ad(counts)
    z = fit_baseline(run["method"], counts_matrix(adata, source=counts), n_components, int(run["seed"]))
    write_h5ad(_latent_adata(adata, z, run), latent, {**run, "n_components": n_components})


@logged
def embed(*, counts: str, embedding: str, seed: int, n_neighbors: int = 15) -> None:
    """The dataset's own UMAP (log-normalised counts → PCA → kNN → UMAP), computed once for all figures."""
    import scanpy as sc

    adata = ad.read_h5ad(counts)
    adata.X = counts_matrix(adata, source=counts)
    sc.pp.normalize_total(adata)
    sc.pp.log1p(adata)
    sc.pp.pca(adata, n_comps=min(50, adata.n_obs - 1, adata.n_vars - 1), random_state=seed)
    sc.pp.neighbors(adata, n_neighbors=n_neighbors, transformer="sklearn", random_state=seed)
    sc.tl.umap(adata, random_state=seed)
    out = ad.AnnData(obs=adata.obs.copy())
    out.obsm["X_umap"] = adata.obsm["X_umap"].astype(np.float32)
    out.obsm["X_pca"] = adata.obsm["X_pca"].astype(np.float32)
    write_h5ad(out, embedding, {"seed": seed, "n_neighbors": n_neighbors})


def score_latent(adata: ad.AnnData, factors: list[str], identity: str | None = None,
                 correlation: str = "pearson", resolutions: tuple[float, ...] = DEFAULT_RESOLUTIONS,
                 n_neighbors: int = 15, seed: int = 0, neighbors_method: str = "umap") -> pd.DataFrame:
    """Every metric of one latent (`obsm["X_latent"]`) against its factors and identity labels, as long rows.

    max |corr| for each numeric factor; the disentanglement scores over all `factors` (numeric
    or categorical); with an `identity` column, the best Leiden ARI (and its NMI and resolution)
    and the per-label balanced accuracy of the best single dimension. Columns: `metric`,
    `factor` (empty for a score over all factors), `dim` (-1 where none), `value`.
    """
    from scbeta.metrics import all_scores, best_ari, identity_accuracy
    from scbeta.metrics.disentanglement import is_categorical

    z = adata.obsm["X_latent"]
    table = adata.obs[factors]
    numeric = [name for name in factors if not is_categorical(table[name])]
    rows = []
    if numeric:
        corr = max_abs_corr(z, table[numeric].astype(float), method=correlation)
        rows += [("max_abs_corr", factor, int(r.dim), r.abs_corr) for factor, r in corr.iterrows()]
    rows += [(metric, "", -1, value) for metric, value in all_scores(z, table, seed=seed).items()]
    if identity is not None:
        labels = adata.obs[identity].astype(str).to_numpy()
        clustering = best_ari(z, labels, resolutions=resolutions, n_neighbors=n_neighbors, seed=seed,
                              neighbors_method=neighbors_method)
        rows += [(f"best_{key}", "", -1, value) for key, value in clustering.items()]
        accuracy = identity_accuracy(z, labels, seed=seed)
        rows += [("identity_accuracy", r.label, int(r.dim), r.balanced_accuracy) for r in accuracy.itertuples()]
    return pd.DataFrame(rows, columns=["metric", "factor", "dim", "value"])


@logged
def score(*, latent: str, scores: str, factors: list[str], identity: str | None = None,
          correlation: str = "pearson", resolutions: Sequence[float] = DEFAULT_RESOLUTIONS,
          n_neighbors: int = 15, neighbors_method: str = "umap") -> None:
    """Score one run's latent; one row per metric × factor, with the run's parameters beside it."""
    adata = ad.read_h5ad(latent)
    run = adata.uns["run"]
    settings = {"factors": list(factors), "identity": identity, "correlation": correlation,
                "resolutions": list(resolutions), "n_neighbors": n_neighbors, "neighbors_method": neighbors_method}
    table = score_latent(adata, list(factors), identity, correlation, tuple(resolutions), n_neighbors,
                         seed=int(run["seed"]), neighbors_method=neighbors_method)
    for position, key in enumerate(RUN_COLUMNS):
        table.insert(position, key, run[key])
    write_tsv(table, scores, settings)


@logged
def collect(*, scores: list[str], table: str, max_abs_corr_table: str) -> None:
    """Concatenate per-run score tables into the dataset's `all.tsv` and its max |corr| table."""
    frames = [read_tsv(path) for path in scores]
    combined = pd.concat(frames, ignore_index=True)
    write_tsv(combined, table)
    write_tsv(combined[combined["metric"] == "max_abs_corr"].rename(columns={"value": "abs_corr"}),
              max_abs_corr_table)


@logged
def figure2(*, embedding: str, max_abs_corr_table: str, latents: list[str], png: str, pdf: str) -> None:
    """Figure 2 of the preprint from the cached UMAP, the score table and the panel-D latents."""
    from scbeta import plots

    fig = plots.figure2(ad.read_h5ad(embedding), read_tsv(max_abs_corr_table), [ad.read_h5ad(p) for p in latents])
    save_figure(fig, [png, pdf])


@logged
def claims(*, markdown: str, html: str, table: str, simulated: str | None = None, real: str | None = None) -> None:
    """Check the preprint's three claims against the metric tables: `claims.md`, its HTML page and a TSV."""
    import markdown as md

    from scbeta.claims import write_claims

    write_claims(markdown, table, simulated=simulated, real=real)
    body = md.markdown(Path(markdown).read_text(), extensions=["tables"])
    page = ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Claims of the preprint</title>"
            "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head>"
            f"<body>{body}</body></html>\n")
    with atomic_path(html) as tmp:
        tmp.write_text(page)


PROVENANCE_PACKAGES = ("scbeta", "torch", "numpy", "scipy", "pandas", "anndata", "scanpy", "scikit-learn",
                       "matplotlib", "seaborn", "leidenalg", "igraph", "snakemake")


@logged
def provenance(*, versions: str, config_used: str, config: Mapping[str, Any]) -> None:
    """The versions of Python and of the packages the study ran with, and the config it ran with."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import yaml

    rows = [("python", platform.python_version())]
    for package in PROVENANCE_PACKAGES:
        try:
            rows.append((package, version(package)))
        except PackageNotFoundError:
            rows.append((package, "not installed"))
    rows.append(("platform", platform.platform()))
    write_tsv(pd.DataFrame(rows, columns=["package", "version"]), versions)
    with atomic_path(config_used) as tmp:
        tmp.write_text(yaml.safe_dump(dict(config), sort_keys=False))


@logged
def figure3(*, embedding: str, table: str, latents: list[str], png: str, pdf: str, identity: str,
            stimulation: str, targets: list[str]) -> None:
    """Figure 3 of the preprint from the real dataset's cached UMAP, its metric table and the panel-E latents."""
    from scbeta import plots

    fig = plots.figure3(ad.read_h5ad(embedding), read_tsv(table), [ad.read_h5ad(p) for p in latents],
                        identity=identity, stimulation=stimulation, targets=targets)
    save_figure(fig, [png, pdf])


@logged
def summary_figures(*, tables: list[str], tradeoff_png: str, tradeoff_pdf: str, metrics_png: str,
                    metrics_pdf: str) -> None:
    """The trade-off figure and every metric against β, over all datasets."""
    from scbeta import plots

    frames = [read_tsv(path) for path in tables]
    by_dataset = {str(frame["dataset"].iloc[0]): frame for frame in frames if len(frame)}
    save_figure(plots.tradeoff(by_dataset), [tradeoff_png, tradeoff_pdf])
    save_figure(plots.metrics_by_beta(by_dataset), [metrics_png, metrics_pdf])


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
    baseline refitted from the counts with the run's seed, which reproduces its latent).
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
        from scbeta.baselines import fit_baseline_with_loadings

        z = run_latent.obsm["X_latent"]
        refit, loadings = fit_baseline_with_loadings(run["method"], counts_matrix(adata, source=counts), z.shape[1],
                                                     int(run["seed"]))
        difference = float(np.abs(refit - z).max())
        if difference > 1e-3 * max(float(np.abs(z).max()), 1.0):
            logger.warning("the refitted %s differs from its latent by up to %.3g", run["method"], difference)
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
        if truth.all() or not truth.any():
            logger.warning("factor %s: %d of %d genes are program genes; no recovery score", factor_row.target,
                           int(truth.sum()), truth.size)
            continue
        dim_scores = program_table.loc[program_table["dim"] == factor_row.dim, "score"].to_numpy()
        auroc, ap = gp.recovery(dim_scores, truth)
        logger.info("factor %s, dim %d: %d program genes, AUROC %.3f, AP %.3f", factor_row.target, factor_row.dim,
                    int(truth.sum()), auroc, ap)
        rows += [("program_auroc", factor_row.target, factor_row.dim, auroc),
                 ("program_ap", factor_row.target, factor_row.dim, ap)]
    recovery_table = pd.DataFrame(rows, columns=["metric", "factor", "dim", "value"])
    for position, key in enumerate(RUN_COLUMNS):
        recovery_table.insert(position, key, run[key])

    settings = {"run": run["run"], "span": span, "n_cells": n_cells, "seed": seed, "n_top": n_top,
                "gene_sets": {f: {"path": p, "source": s} for f, p, s in zip(gene_set_factors, gene_sets,
                                                                             gene_set_sources)}}
    write_tsv(program_table, table, settings)
    write_tsv(top, top_genes, settings)
    write_tsv(recovery_table, recovery, settings)


@logged
def programs_figure(*, table: str, programs: list[str], png: str, pdf: str, n_genes_per_dim: int = 2) -> None:
    """The dataset's gene-program figure: top genes per dimension at each β, program recovery against β."""
    from scbeta import plots_programs

    fig = plots_programs.programs_figure(read_tsv(table), {Path(p).stem: read_tsv(p) for p in programs},
                                         n_genes_per_dim=n_genes_per_dim)
    save_figure(fig, [png, pdf])
