"""The steps of `workflow/rules/train.smk`: trained models, their latents, and the classical baselines."""
from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from scbeta._io import remove_stale_parts, write_h5ad
from scbeta.data import counts_matrix
from scbeta.pipeline import logged, logger
from scbeta.registry import RUN_COLUMNS


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
    with its genes × components loadings in `uns["loadings"]` (the programs of its dimensions) and whether its
    fit converged in `uns["converged"]`."""
    from scbeta.baselines import fit_baseline_with_loadings

    adata = ad.read_h5ad(counts)
    fit = fit_baseline_with_loadings(run["method"], counts_matrix(adata, source=counts), n_components,
                                     int(run["seed"]))
    if not fit.converged:
        logger.warning("%s did not converge within its iteration limit; its latent is kept, marked converged = 0",
                       run["method"])
    out = _latent_adata(adata, fit.embedding, run)
    out.uns["loadings"] = fit.loadings.astype(np.float32)
    out.uns["converged"] = bool(fit.converged)
    write_h5ad(out, latent, {**run, "n_components": n_components})
