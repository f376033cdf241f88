"""The user API: `fit` a model (or several at once, `fit_many`) on an AnnData of raw counts, read its `latent`,
`save` and `load` it."""
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
from scbeta.module import VAE, StackedVAE
from scbeta.objectives import Objective, check_options, make_objective, objective_keywords
from scbeta.train import (
    CHECKPOINT_FILE,
    CountStore,
    Group,
    default_epochs,
    fingerprint,
    pick_device,
    sync_allowed,
    train,
)

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
    """The VAE and objective that `params` describe, initialised from torch's global random state."""
    module = VAE(**{key: params[key] for key in ARCHITECTURE_KEYS}).to(device)
    accepted = objective_keywords(params["objective"])
    # Saved params may hold options of other objectives (older files passed every objective the same set).
    options = {key: value for key, value in params["objective_params"].items() if key in accepted}
    structure = {"n_data": params["n_cells"], "n_latent": params["n_latent"]}
    options.update({key: value for key, value in structure.items() if key in accepted})
    return module, make_objective(params["objective"], **options).to(device)


TRAINING_DEFAULTS: dict[str, Any] = {
    "n_latent": 10, "n_hidden": 128, "n_layers": 1, "dropout": 0.1, "likelihood": "zinb", "epochs": None,
    "batch_size": 128, "lr": 1e-3, "device": "auto", "layer": None, "kl_warmup_epochs": 400,
    "capacity_share": 0.8, "checkpoint_every": 10, "cuda_graph": True,
}
RUN_KEYS = ("objective", "beta", "c_max", "seed", "objective_params")
# A run's beta and c_max at these values mean "not set", for objectives that take no such option.
_NEUTRAL = {"beta": 1.0, "c_max": 0.0}


def run_name(run: dict[str, Any]) -> str:
    """A run's name in the workflow's style (`scbeta.registry.run_name`), e.g. `beta_beta10_cmax0_seed0`."""
    from scbeta import registry

    objective = run.get("objective") or ("capacity" if run.get("c_max", 0.0) > 0 else "beta")
    gamma = float((run.get("objective_params") or {}).get("gamma", 0.0))
    beta, c_max, seed = float(run.get("beta", 1.0)), float(run.get("c_max", 0.0)), int(run.get("seed", 0))
    if objective not in registry.OBJECTIVES:  # an objective defined outside the registry, e.g. in a test
        return f"{objective}_beta{beta:g}_cmax{c_max:g}_seed{seed}"
    return registry.run_name("vae", objective, beta, c_max, gamma, seed)


def _run_params(run: dict[str, Any], base: dict[str, Any], shares: dict[str, float]) -> dict[str, Any]:
    """The `Model.params` of one run: the group's settings plus the run's objective, options and seed."""
    name = run_name(run)
    unknown = sorted(set(run) - set(RUN_KEYS))
    if unknown:
        raise ValueError(f"run {name}: unknown key(s) {', '.join(unknown)}; a run takes {', '.join(RUN_KEYS)}")
    beta, c_max = float(run.get("beta", 1.0)), float(run.get("c_max", 0.0))
    objective = run.get("objective") or ("capacity" if c_max > 0 else "beta")
    if objective == "beta" and c_max > 0:
        raise ValueError(f"run {name}: objective 'beta' has no capacity; use objective='capacity' for c_max > 0")
    accepted = objective_keywords(objective)
    for key, value in (("beta", beta), ("c_max", c_max)):
        if key not in accepted and value != _NEUTRAL[key]:
            raise ValueError(f"run {name}: objective {objective!r} takes no {key} (got {value})")
    given = {"beta": beta, "c_max": c_max, **shares}
    options = {key: value for key, value in given.items() if key in accepted}
    extra = dict(run.get("objective_params") or {})
    check_options(objective, extra, where=f"run {name}: ")
    options.update(extra)
    return {**base, "objective": objective, "objective_params": options, "seed": int(run.get("seed", 0))}


def fit_many(adata: ad.AnnData, runs: list[dict[str, Any]], *, checkpoint: str | Path | None = None,
             **training: Any) -> list[Model]:
    """Train K models of one objective on the raw counts of `adata` at once; return their `Model`s in order.

    runs: one dict per model, with `objective` (as in `fit`), `beta`, `c_max`, `seed` and
    `objective_params` (further keywords of the objective, e.g. `gamma`, `discriminator_width`).
    All runs share one objective and its non-numeric options; β, C_max, γ and other numeric
    options may differ. training: the keywords of `fit` (n_latent, n_hidden, n_layers, dropout,
    likelihood, epochs, batch_size, lr, device, layer, kl_warmup_epochs, capacity_share,
    checkpoint_every, cuda_graph), the same for every run. Each model is initialised, shuffled and
    sampled from its own seed exactly as when trained alone, so it ends as `fit` would leave it
    (to float rounding). checkpoint: one folder for the whole group; a rerun resumes from it.
    """
    unknown = sorted(set(training) - set(TRAINING_DEFAULTS))
    if unknown:
        raise TypeError(f"fit_many got unknown keyword(s) {', '.join(unknown)}; "
                        f"it takes {', '.join(TRAINING_DEFAULTS)}")
    if not runs:
        raise ValueError("fit_many needs at least one run")
    t = {**TRAINING_DEFAULTS, **training}
    _check_training_args(adata.n_obs, t["n_latent"], t["batch_size"])
    layer = t["layer"]
    counts = counts_matrix(adata, layer, source="adata" if layer is None else f"adata.layers[{layer!r}]")
    epochs = default_epochs(adata.n_obs) if t["epochs"] is None else int(t["epochs"])
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    base = {"n_genes": adata.n_vars, "n_cells": adata.n_obs, "n_latent": t["n_latent"], "n_hidden": t["n_hidden"],
            "n_layers": t["n_layers"], "dropout": t["dropout"], "likelihood": t["likelihood"],
            "epochs": epochs, "batch_size": t["batch_size"], "lr": t["lr"]}
    warmup = t["kl_warmup_epochs"]
    shares = {"capacity_share": t["capacity_share"],
              "kl_warmup_share": min(1.0, warmup / epochs) if warmup > 0 else 0.0}
    names = [run_name(run) for run in runs]
    params = [_run_params(run, base, shares) for run in runs]

    device = pick_device(t["device"])
    vaes, objectives = [], []
    for run_params in params:
        # Each model's initial weights from its own seed, as `fit` alone draws them.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(run_params["seed"])
            vae, objective = _build(run_params, torch.device("cpu"))
        vaes.append(vae)
        objectives.append(objective)
    with sync_allowed(device):  # set-up copies to the device; only the epochs are free of synchronisation
        # The runs share one step: one objective, and options that differ only in its per-model numbers.
        objective = type(objectives[0]).stack(objectives, names).to(device)
        group = Group(module=StackedVAE(vaes).to(device), objective=objective,
                      generators=[torch.Generator(device).manual_seed(p["seed"]) for p in params], names=names)
        store = CountStore(counts, device)
    var_names = list(map(str, adata.var_names))
    resolved = "".join(f", {key} {value}" for key, value in objective.resolved(device).items())
    logger.info("training %d %s model(s) on %d cells × %d genes, %d epochs, device %s%s",
                len(runs), params[0]["objective"], adata.n_obs, adata.n_vars, epochs, device, resolved)
    histories = train(group, store, epochs=epochs, batch_size=t["batch_size"], lr=t["lr"],
                      checkpoint_dir=checkpoint, checkpoint_every=t["checkpoint_every"],
                      fingerprint=fingerprint({"runs": params, "var_names": var_names}), cuda_graph=t["cuda_graph"])
    if checkpoint is not None:
        # The finished models supersede their checkpoint.
        (Path(checkpoint) / CHECKPOINT_FILE).unlink(missing_ok=True)
    with sync_allowed(device):
        group.module.unstack_into(vaes)
        return [Model(vae.to(device).eval(), group.objective.unstack(k), run_params, var_names, history)
                for k, (vae, run_params, history) in enumerate(zip(vaes, params, histories))]


def _check_training_args(n_cells: int, n_latent: int, batch_size: int) -> None:
    """Refuse settings that cannot train: no latent dimension, or minibatches of fewer than two cells."""
    if n_latent < 1:
        raise ValueError(f"n_latent must be at least 1, got {n_latent}")
    if batch_size < 2:
        raise ValueError(f"batch_size must be at least 2 (cells per minibatch), got {batch_size}")
    if n_cells < 2:
        raise ValueError(f"adata must hold at least 2 cells to train on, got {n_cells}")


def fit(adata: ad.AnnData, *, objective: str | None = None, beta: float = 1.0, c_max: float = 0.0,
        n_latent: int = 10, n_hidden: int = 128, n_layers: int = 1, dropout: float = 0.1,
        likelihood: str = "zinb", epochs: int | None = None, batch_size: int = 128, lr: float = 1e-3,
        seed: int = 0, device: str = "auto", checkpoint: str | Path | None = None, layer: str | None = None,
        kl_warmup_epochs: float = 400, capacity_share: float = 0.8, checkpoint_every: int = 10,
        objective_params: dict[str, Any] | None = None, cuda_graph: bool = True) -> Model:
    """Train an scVI-style VAE on the raw counts of `adata` and return the `Model` (`fit_many` with one run).

    objective: "beta" (recon + β·KL), "capacity" (recon + β·|KL − C|, C rising from 0 to
    `c_max` nats over the first `capacity_share` of training) or any other name in
    `scbeta.objectives.OBJECTIVES`; by default "capacity" when c_max > 0, else "beta".
    `objective_params` passes further keywords to that objective (e.g. `gamma`); one it does
    not take is an error.
    The KL weight warms up linearly over `kl_warmup_epochs` epochs, as in scVI (400).
    epochs=None uses scVI's heuristic min(round(20000 / n_cells × 400), 400).
    With `checkpoint` (a folder), training checkpoints every `checkpoint_every` epochs and a
    rerun resumes from the last checkpoint of the same configuration. cuda_graph: on CUDA,
    capture the training step in a CUDA graph (no effect elsewhere).
    """
    run = {"objective": objective, "beta": beta, "c_max": c_max, "seed": seed,
           "objective_params": objective_params or {}}
    return fit_many(adata, [run], checkpoint=checkpoint, n_latent=n_latent, n_hidden=n_hidden, n_layers=n_layers,
                    dropout=dropout, likelihood=likelihood, epochs=epochs, batch_size=batch_size, lr=lr,
                    device=device, layer=layer, kl_warmup_epochs=kl_warmup_epochs, capacity_share=capacity_share,
                    checkpoint_every=checkpoint_every, cuda_graph=cuda_graph)[0]


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

