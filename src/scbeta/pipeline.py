"""One function per workflow rule: read the rule's inputs, call the package, write its outputs.

Each takes the rule's named inputs, outputs and params as keywords (see `rule_args`) and a
`log` path that receives the package's log lines. Snakemake scripts in `workflow/scripts/`
are one call into this module.
"""
from __future__ import annotations

import functools
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from scbeta import __version__, tl
from scbeta._io import atomic_path, read_tsv, remove_stale_parts, save_figure, write_h5ad, write_tsv
from scbeta.data import counts_matrix
from scbeta.metrics import max_abs_corr
from scbeta.registry import DEFAULT_RESOLUTIONS, RUN_COLUMNS

logger = logging.getLogger("scbeta")


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
def download_kang2018(*, files: list[str], base_url: str, local_dir: str | None = None,
                      local_files: Sequence[str] = ()) -> None:
    """Fetch the six GEO files of Kang et al. (2018) into the folder of `files`, checked against its MANIFEST.tsv.

    `local_files` (the files in `local_dir`) are the rule's inputs only so that a changed one reruns it.
    """
    from scbeta.download import fetch_kang2018

    fetch_kang2018(Path(files[0]).parent, base_url=base_url, local_dir=local_dir)


@logged
def prepare_kang2018(*, files: list[str], counts: str, n_top_genes: int, max_cells: int | None = None,
                     subsample_seed: int = 0) -> None:
    """Parse the GEO files into one AnnData of singlets with a cell type (at most `max_cells`), on the most
    variable genes."""
    from scbeta.data import SourceFileError, read_kang2018
    from scbeta.data import prepare_kang2018 as prepare
    from scbeta.download import discard

    try:
        cells = read_kang2018(Path(files[0]).parent)
    except SourceFileError as err:
        # Forget the unreadable file so that the next run fetches it again, e.g. after a fix in local_dir.
        discard(err.path)
        logger.error("removed %s and its manifest record: fix the file at its source (local_dir or server), "
                     "then rerun to fetch it again", err.path)
        raise
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
def train_group(*, counts: str, models: Sequence[str], histories: Sequence[str], checkpoint: str,
                runs: Sequence[Mapping[str, Any]], training: Mapping[str, Any]) -> None:
    """Fit the models of one group in one call (`scbeta.model.fit_many`) and save each into the folder of its
    `models` path, beside its `histories` path.

    `runs[i]` is the model saved to `models[i]`; `checkpoint` is the group's checkpoint folder,
    removed once every model is saved.
    """
    from scbeta.model import fit_many
    from scbeta.train import CHECKPOINT_FILE

    # A job killed while writing its checkpoint left a temporary file; the next checkpoint write would remove
    # it too, but only `checkpoint_every` epochs in (or never, in a short run), so it goes now, with a log line.
    for part in remove_stale_parts(Path(checkpoint) / CHECKPOINT_FILE):
        logger.info("removed %s, left by an interrupted checkpoint write", part)
    folders = [Path(path).parent for path in models]
    if len(runs) != len(folders) or [Path(path).parent for path in histories] != folders:
        raise ValueError(f"a training group needs one model path and one history path per run; got {len(runs)} "
                         f"runs, models {list(models)}, histories {list(histories)}")
    adata = ad.read_h5ad(counts)
    logger.info("training %d models in one group: %s", len(runs), ", ".join(folder.name for folder in folders))
    fitted = fit_many(adata, [dict(run) for run in runs], checkpoint=checkpoint, **dict(training))
    for model, folder in zip(fitted, folders):
        model.save(folder)
    # Every model is saved: the group's checkpoints are superseded.
    shutil.rmtree(checkpoint, ignore_errors=True)


def _latent_adata(adata: ad.AnnData, latent: np.ndarray, run: Mapping[str, Any]) -> ad.AnnData:
    out = ad.AnnData(obs=adata.obs.copy())
    out.obsm["X_latent"] = np.asarray(latent, dtype=np.float32)
    out.uns["run"] = {key: run[key] for key in RUN_COLUMNS}
    return out


def final_terms(history: pd.DataFrame) -> dict[str, float]:
    """The last epoch's reconstruction term and KL (nats per cell) of a training history, where it has them."""
    columns = {"final_recon": "recon", "final_kl": "kl"}
    if history.empty:
        return {}
    return {name: float(history[column].iloc[-1]) for name, column in columns.items() if column in history}


@logged
def latent(*, counts: str, model: str, history: str, latent: str, run: Mapping[str, Any]) -> None:
    """The posterior of every cell under a trained model: means in `obsm["X_latent"]`, variances in
    `obsm["X_latent_var"]`, and the last epoch's reconstruction and KL in `uns["training"]`.

    `history` is the model's `history.tsv`, which `scbeta.model.load` reads with the model; it is an
    input of the rule so that the latent follows it."""
    from scbeta.model import load

    adata = ad.read_h5ad(counts)
    fitted = load(Path(model).parent)
    mean, var = fitted.posterior(adata)
    out = _latent_adata(adata, mean, run)
    out.obsm["X_latent_var"] = np.asarray(var, dtype=np.float32)
    out.uns["training"] = final_terms(fitted.history)
    write_h5ad(out, latent, dict(run))


@logged
def baseline(*, counts: str, latent: str, run: Mapping[str, Any], n_components: int) -> None:
    """A classical baseline (PCA, FastICA or NMF on log-normalised counts) as a latent of `n_components` dims,
    with its genes × components loadings in `uns["loadings"]` (the programs of its dimensions)."""
    from scbeta.baselines import fit_baseline_with_loadings

    adata = ad.read_h5ad(counts)
    z, loadings = fit_baseline_with_loadings(run["method"], counts_matrix(adata, source=counts), n_components,
                                             int(run["seed"]))
    out = _latent_adata(adata, z, run)
    out.uns["loadings"] = loadings.astype(np.float32)
    write_h5ad(out, latent, {**run, "n_components": n_components})


@logged
def embed(*, counts: str, embedding: str, seed: int, n_neighbors: int = 15) -> None:
    """The dataset's own UMAP (`scbeta.tl.embedding`), computed once for all figures."""
    out = tl.embedding(ad.read_h5ad(counts), seed=seed, n_neighbors=n_neighbors, source=counts)
    write_h5ad(out, embedding, {"seed": seed, "n_neighbors": n_neighbors})


def factor_table(obs: pd.DataFrame, factors: Sequence[str],
                 factor_types: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The `factors` columns of `obs`, as the types declared in `factor_types` ("categorical" or "numeric");
    undeclared columns keep their dtype (numeric dtypes count as numeric)."""
    table = obs[list(factors)].copy()
    for name, declared in (factor_types or {}).items():
        if name not in table:
            continue
        if declared == "categorical":
            table[name] = table[name].astype("category")
        elif declared == "numeric":
            values = pd.to_numeric(table[name].astype(object), errors="coerce")
            if values.isna().gt(table[name].isna()).any():
                raise ValueError(f"factor {name!r} is declared numeric but holds non-numeric values")
            table[name] = values.astype(float)
    return table


def activity_rows(adata: ad.AnnData) -> list[tuple[str, str, int, float]]:
    """Collapse diagnostics of one latent as (metric, factor, dim, value) rows.

    `active_units` (dimensions with activity > 0.01) and `latent_activity` per dimension for
    every latent; for a VAE (posterior variances in `obsm["X_latent_var"]`) also `kl_dim`, the
    KL of each dimension in nats per cell, and the last epoch's `final_recon` and `final_kl`
    from `uns["training"]`.
    """
    from scbeta.metrics import active_units, kl_per_dim, latent_activity

    z = adata.obsm["X_latent"]
    rows = [("active_units", "", -1, float(active_units(z)))]
    rows += [("latent_activity", "", dim, float(v)) for dim, v in enumerate(latent_activity(z))]
    if "X_latent_var" in adata.obsm:
        rows += [("kl_dim", "", dim, float(v)) for dim, v in enumerate(kl_per_dim(z, adata.obsm["X_latent_var"]))]
    rows += [(name, "", -1, float(value)) for name, value in dict(adata.uns.get("training", {})).items()]
    return rows


def score_latent(adata: ad.AnnData, factors: list[str], identity: str | None = None,
                 correlation: str = "pearson", resolutions: tuple[float, ...] = DEFAULT_RESOLUTIONS,
                 n_neighbors: int = 15, seed: int = 0, neighbors_method: str = "umap",
                 factor_types: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Every metric of one latent (`obsm["X_latent"]`) against its factors and identity labels, as long rows.

    The collapse diagnostics of `activity_rows`; max |corr| for each numeric factor (declared
    "numeric" in `factor_types`, or undeclared with a numeric dtype); the disentanglement scores
    over all `factors` (numeric or categorical); with an `identity` column, the best Leiden ARI (and
    its NMI and resolution)
    and the per-label balanced accuracy of the best single dimension. Columns: `metric`,
    `factor` (empty for a score over all factors), `dim` (-1 where none), `value`.
    """
    from scbeta.metrics import all_scores, best_ari, identity_accuracy, is_categorical

    z = adata.obsm["X_latent"]
    table = factor_table(adata.obs, factors, factor_types)
    numeric = [name for name in factors if not is_categorical(table[name])]
    rows = activity_rows(adata)
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


def _with_run(table: pd.DataFrame, run: Mapping[str, Any]) -> pd.DataFrame:
    """`table` (in place) with the run's parameters (`RUN_COLUMNS`) as its first columns."""
    for position, key in enumerate(RUN_COLUMNS):
        table.insert(position, key, run[key])
    return table


@logged
def score(*, latent: str, scores: str, factors: list[str], identity: str | None = None,
          correlation: str = "pearson", resolutions: Sequence[float] = DEFAULT_RESOLUTIONS,
          n_neighbors: int = 15, neighbors_method: str = "umap",
          factor_types: Mapping[str, str] | None = None) -> None:
    """Score one run's latent; one row per metric × factor, with the run's parameters beside it.

    `factor_types` declares factors "categorical" or "numeric" (see `score_latent`)."""
    adata = ad.read_h5ad(latent)
    run = adata.uns["run"]
    settings = {"factors": list(factors), "factor_types": dict(factor_types or {}), "identity": identity,
                "correlation": correlation, "resolutions": list(resolutions), "n_neighbors": n_neighbors,
                "neighbors_method": neighbors_method}
    table = score_latent(adata, list(factors), identity, correlation, tuple(resolutions), n_neighbors,
                         seed=int(run["seed"]), neighbors_method=neighbors_method, factor_types=factor_types)
    write_tsv(_with_run(table, run), scores, settings)


def collapse_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per run: `active_units`, `final_recon`, `final_kl` (nats per cell) and per dimension d
    `activity_dim<d>` and `kl_dim<d>` (nats per cell), from the long metric table (NaN where a run has none)."""
    keys = [c for c in RUN_COLUMNS if c in table.columns]
    runs = table[keys].drop_duplicates("run").set_index("run")
    wide = runs.copy()
    for metric in ("active_units", "final_recon", "final_kl"):
        wide[metric] = table[table["metric"] == metric].groupby("run")["value"].first()
    for metric, prefix in (("latent_activity", "activity_dim"), ("kl_dim", "kl_dim")):
        rows = table[table["metric"] == metric]
        per_dim = rows.pivot_table(index="run", columns="dim", values="value", aggfunc="first")
        for dim in per_dim.columns:
            wide[f"{prefix}{int(dim)}"] = per_dim[dim]
    return wide.reset_index()[keys + [c for c in wide.columns if c not in keys]]


@logged
def collect(*, scores: list[str], table: str, max_abs_corr_table: str, collapse: str,
            settings: Mapping[str, Any] | None = None) -> None:
    """Concatenate per-run score tables into the dataset's `all.tsv`, its max |corr| table and its
    collapse table (one row per run, see `collapse_table`); `settings` (the config they come from)
    goes into their provenance line."""
    frames = [read_tsv(path) for path in scores]
    combined = pd.concat(frames, ignore_index=True)
    write_tsv(combined, table, settings)
    write_tsv(combined[combined["metric"] == "max_abs_corr"].rename(columns={"value": "abs_corr"}),
              max_abs_corr_table, settings)
    write_tsv(collapse_table(combined), collapse, settings)


@logged
def figure2(*, embedding: str, table: str, latents: list[str], png: str, pdf: str, reduced: str = "") -> None:
    """Figure 2 of the preprint from the cached UMAP, the metric table and the panel-D latents; `reduced`
    (see `scbeta.config.reduced_configuration`) goes under the figure and into its metadata."""
    from scbeta import plots

    fig = plots.figure2(ad.read_h5ad(embedding), read_tsv(table), [ad.read_h5ad(p) for p in latents])
    plots.add_note(fig, reduced)
    save_figure(fig, [png, pdf], note=reduced)


@logged
def claims(*, markdown: str, html: str, table: str, summary: str, simulated: str | None = None,
           real: str | None = None, reduced: str = "") -> None:
    """Check the preprint's three claims against the metric tables: `claims.md`, its HTML page, a TSV and
    the report's landing-page summary; `reduced` (see `scbeta.config.reduced_configuration`) heads each."""
    from scbeta.claims import write_claims

    write_claims(markdown, table, simulated=simulated, real=real, html=html, summary=summary, reduced=reduced)


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
            stimulation: str, targets: list[str], reduced: str = "") -> None:
    """Figure 3 of the preprint from the real dataset's cached UMAP, its metric table and the panel-E latents;
    `reduced` goes under the figure and into its metadata."""
    from scbeta import plots

    fig = plots.figure3(ad.read_h5ad(embedding), read_tsv(table), [ad.read_h5ad(p) for p in latents],
                        identity=identity, stimulation=stimulation, targets=targets)
    plots.add_note(fig, reduced)
    save_figure(fig, [png, pdf], note=reduced)


@logged
def summary_figures(*, tables: list[str], tradeoff_png: str, tradeoff_pdf: str, metrics_png: str,
                    metrics_pdf: str, reduced: str = "") -> None:
    """The trade-off figure and every metric against β, over all datasets; `reduced` goes under each figure
    and into its metadata."""
    from scbeta import plots

    frames = [read_tsv(path) for path in tables]
    by_dataset = {str(frame["dataset"].iloc[0]): frame for frame in frames if len(frame)}
    for fig, paths in ((plots.tradeoff(by_dataset), [tradeoff_png, tradeoff_pdf]),
                       (plots.metrics_by_beta(by_dataset), [metrics_png, metrics_pdf])):
        plots.add_note(fig, reduced)
        save_figure(fig, paths, note=reduced)


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
    recovery_table = _with_run(pd.DataFrame(rows, columns=["metric", "factor", "dim", "value"]), run)

    settings = {"run": run["run"], "span": span, "n_cells": n_cells, "seed": seed, "n_top": n_top,
                "gene_sets": {f: {"path": p, "source": s} for f, p, s in zip(gene_set_factors, gene_sets,
                                                                             gene_set_sources)}}
    write_tsv(program_table, table, settings)
    write_tsv(top, top_genes, settings)
    write_tsv(recovery_table, recovery, settings)


@logged
def programs_figure(*, table: str, programs: list[str], png: str, pdf: str, n_genes_per_dim: int = 2,
                    reduced: str = "") -> None:
    """The dataset's gene-program figure: top genes per dimension at each β, program recovery against β;
    `reduced` (a reduced configuration's note) goes under its title and into its metadata."""
    from scbeta import plots

    fig = plots.programs_figure(read_tsv(table), {Path(p).stem: read_tsv(p) for p in programs},
                                n_genes_per_dim=n_genes_per_dim)
    plots.add_note(fig, reduced)
    save_figure(fig, [png, pdf], note=reduced)
