"""One function per workflow rule: read the rule's inputs, call the package, write its outputs.

Each takes the rule's named inputs, outputs and params as keywords (see `rule_args`) and a
`log` path that receives the package's log lines. Snakemake scripts in `workflow/scripts/`
are one call into this module.
"""
from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import torch

from scbeta import __version__
from scbeta._io import read_tsv, save_figure, write_h5ad, write_tsv
from scbeta.config import RUN_COLUMNS
from scbeta.data import counts_matrix
from scbeta.metrics import max_abs_corr

logger = logging.getLogger("scbeta")


def rule_args(smk: Any) -> dict[str, Any]:
    """The named inputs, outputs and params of a Snakemake job, its log and threads, as one dict."""
    args: dict[str, Any] = {}
    for namedlist in (smk.input, smk.output, smk.params):
        args.update(dict(namedlist.items()))
    args["log"] = smk.log[0] if len(smk.log) else None
    args["threads"] = smk.threads
    return args


def logged(step: Callable[..., None]) -> Callable[..., None]:
    """Send the `scbeta` logger to the file `log` (and stderr) while `step` runs; log its duration."""

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
        torch.set_num_threads(max(1, int(threads)))
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
def train(*, counts: str, model: str, history: str, checkpoint: str, run: Mapping[str, Any],
          training: Mapping[str, Any]) -> None:
    """Fit one model of the sweep and save it into the folder of `model` (with `history`)."""
    from scbeta.model import fit

    adata = ad.read_h5ad(counts)
    training = dict(training)
    objective_params = {"gamma": run["gamma"]} if run["objective"] == "factorvae" else None
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


def score_latent(adata: ad.AnnData, factors: list[str], correlation: str = "pearson") -> pd.DataFrame:
    """Every metric of one latent (`obsm["X_latent"]`) against its factors, as long rows.

    Columns: `metric`, `factor` (empty for a summary over factors), `dim` (-1 where none), `value`.
    """
    z = adata.obsm["X_latent"]
    corr = max_abs_corr(z, adata.obs[factors].astype(float), method=correlation)
    return pd.DataFrame({"metric": "max_abs_corr", "factor": corr.index, "dim": corr["dim"].to_numpy(),
                         "value": corr["abs_corr"].to_numpy()})


@logged
def score(*, latent: str, scores: str, factors: list[str], correlation: str = "pearson") -> None:
    """Score one run's latent; one row per metric × factor, with the run's parameters beside it."""
    adata = ad.read_h5ad(latent)
    table = score_latent(adata, list(factors), correlation)
    run = adata.uns["run"]
    for position, key in enumerate(RUN_COLUMNS):
        table.insert(position, key, run[key])
    write_tsv(table, scores, {"factors": list(factors), "correlation": correlation})


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
