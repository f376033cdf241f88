"""The user API: `fit` a model on an AnnData of raw counts, read its `latent`, `save` and `load` it."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import torch

from scbeta import __version__
from scbeta._io import atomic_path, read_tsv, write_tsv
from scbeta.data import counts_matrix
from scbeta.module import VAE
from scbeta.objectives import Objective, make_objective
from scbeta.train import CHECKPOINT_FILE, CountStore, default_epochs, fingerprint, pick_device, train

logger = logging.getLogger("scbeta")

ARCHITECTURE_KEYS = ("n_genes", "n_latent", "n_hidden", "n_layers", "dropout", "likelihood")


@dataclass
class Model:
    """A trained VAE with the objective it was trained under, its parameters and training history."""

    module: VAE
    objective: Objective
    params: dict[str, Any]
    var_names: list[str]
    history: pd.DataFrame

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def latent(self, adata: ad.AnnData, layer: str | None = None, batch_size: int = 4096) -> np.ndarray:
        """Posterior means of z for every cell of `adata` (cells × n_latent, float32)."""
        return self.posterior(adata, layer, batch_size)[0]

    @torch.no_grad()
    def posterior(self, adata: ad.AnnData, layer: str | None = None,
                  batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Means and variances of the Gaussian posterior q(z | x) of every cell (each cells × n_latent, float32)."""
        if list(adata.var_names) != self.var_names:
            raise ValueError(f"adata has {adata.n_vars} genes that differ from the {len(self.var_names)} "
                             "genes the model was trained on; subset adata to model.var_names in that order")
        store = CountStore(counts_matrix(adata, layer), self.device)
        self.module.eval()
        means, variances = [], []
        for idx in torch.arange(store.n_cells, device=self.device).split(batch_size):
            mu, logvar = self.module.encode(store.batch(idx).x)
            means.append(mu.cpu())
            variances.append(logvar.exp().cpu())
        return torch.cat(means).numpy(), torch.cat(variances).numpy()

    def save(self, path: str | Path) -> None:
        """Write `model.pt`, `params.json`, `var_names.txt` and `history.tsv` into the folder `path`."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        with atomic_path(path / "model.pt") as tmp:
            torch.save({"module": self.module.state_dict(), "objective": self.objective.state_dict()}, tmp)
        with atomic_path(path / "params.json") as tmp:
            tmp.write_text(json.dumps({**self.params, "scbeta_version": __version__}, indent=2, default=str))
        with atomic_path(path / "var_names.txt") as tmp:
            tmp.write_text("\n".join(self.var_names) + "\n")
        write_tsv(self.history, path / "history.tsv", self.params)


def _build(params: dict[str, Any], device: torch.device) -> tuple[VAE, Objective]:
    module = VAE(**{key: params[key] for key in ARCHITECTURE_KEYS}).to(device)
    objective = make_objective(params["objective"], **params["objective_params"],
                               n_data=params["n_cells"], n_latent=params["n_latent"]).to(device)
    return module, objective


def fit(adata: ad.AnnData, *, objective: str | None = None, beta: float = 1.0, c_max: float = 0.0,
        n_latent: int = 10, n_hidden: int = 128, n_layers: int = 1, dropout: float = 0.1,
        likelihood: str = "zinb", epochs: int | None = None, batch_size: int = 128, lr: float = 1e-3,
        seed: int = 0, device: str = "auto", checkpoint: str | Path | None = None, layer: str | None = None,
        kl_warmup_epochs: float = 400, capacity_share: float = 0.8, checkpoint_every: int = 10,
        objective_params: dict[str, Any] | None = None) -> Model:
    """Train an scVI-style VAE on the raw counts of `adata` and return the `Model`.

    objective: "beta" (recon + β·KL), "capacity" (recon + β·|KL − C|, C rising from 0 to
    `c_max` nats over the first `capacity_share` of training) or any other name in
    `scbeta.objectives.OBJECTIVES`; by default "capacity" when c_max > 0, else "beta".
    `objective_params` passes further keywords to that objective (e.g. `gamma`).
    The KL weight warms up linearly over `kl_warmup_epochs` epochs, as in scVI (400).
    epochs=None uses scVI's heuristic min(round(20000 / n_cells × 400), 400).
    With `checkpoint` (a folder), training checkpoints every `checkpoint_every` epochs and a
    rerun resumes from the last checkpoint of the same configuration.
    """
    if objective is None:
        objective = "capacity" if c_max > 0 else "beta"
    if objective == "beta" and c_max > 0:
        raise ValueError("objective 'beta' has no capacity; use objective='capacity' for c_max > 0")
    counts = counts_matrix(adata, layer, source="adata" if layer is None else f"adata.layers[{layer!r}]")
    epochs = default_epochs(adata.n_obs) if epochs is None else int(epochs)
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    params: dict[str, Any] = {
        "n_genes": adata.n_vars, "n_cells": adata.n_obs, "n_latent": n_latent, "n_hidden": n_hidden,
        "n_layers": n_layers, "dropout": dropout, "likelihood": likelihood, "objective": objective,
        "objective_params": {"beta": beta, "c_max": c_max, "capacity_share": capacity_share,
                             "kl_warmup_share": min(1.0, kl_warmup_epochs / epochs) if kl_warmup_epochs > 0 else 0.0,
                             **(objective_params or {})},
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
    }
    torch_device = pick_device(device)
    torch.manual_seed(seed)
    module, objective_module = _build(params, torch_device)
    store = CountStore(counts, torch_device)
    run_id = fingerprint({**params, "var_names": list(adata.var_names)})
    logger.info("training %s on %d cells × %d genes, %d epochs, device %s",
                objective, adata.n_obs, adata.n_vars, epochs, torch_device)
    history = train(module, objective_module, store, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                    checkpoint_dir=checkpoint, checkpoint_every=checkpoint_every, run_id=run_id)
    if checkpoint is not None:
        # The finished model supersedes its checkpoint.
        (Path(checkpoint) / CHECKPOINT_FILE).unlink(missing_ok=True)
    return Model(module, objective_module, params, list(map(str, adata.var_names)), history)


def load(path: str | Path, device: str = "auto") -> Model:
    """Read a model written by `Model.save`."""
    path = Path(path)
    missing = [name for name in ("model.pt", "params.json", "var_names.txt") if not (path / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{path}: not a saved scbeta model (missing {', '.join(missing)})")
    params = json.loads((path / "params.json").read_text())
    params.pop("scbeta_version", None)
    torch_device = pick_device(device)
    module, objective = _build(params, torch_device)
    state = torch.load(path / "model.pt", map_location=torch_device, weights_only=False)
    module.load_state_dict(state["module"])
    objective.load_state_dict(state["objective"])
    module.eval()
    history = read_tsv(path / "history.tsv") if (path / "history.tsv").exists() else pd.DataFrame()
    var_names = (path / "var_names.txt").read_text().splitlines()
    return Model(module, objective, params, var_names, history)
