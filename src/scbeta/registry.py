"""The names the package, the config check, the workflow and the figures share, each written once.

Objectives, baselines, dataset sources and metrics are looked up here by name; so are the format
of run names, the columns that describe a run, which runs are β-VAE runs and the default Leiden
resolutions. Nothing here imports torch or the scientific stack, so the workflow's parse step and
the figures read it cheaply.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import pandas as pd

_Entry = TypeVar("_Entry", "ObjectiveInfo", "MetricInfo")


@dataclass(frozen=True)
class ObjectiveInfo:
    """A training objective as the config, the run names and the figures see it.

    `weights` maps each swept config key the objective uses to what it means in figures, in the
    order the figures use them (the first is the x axis of metric-against-weight plots);
    `options` are the sweep-entry keys it accepts besides the swept numbers, passed to the
    objective unchanged and fixed for the entry.
    """

    name: str
    label: str
    weights: Mapping[str, str]
    options: tuple[str, ...] = ()

    @property
    def weight(self) -> str:
        """The config key of the objective's main regularisation weight ("beta" or "gamma")."""
        return next(iter(self.weights))


@dataclass(frozen=True)
class MetricInfo:
    """A value in the metric tables (`metric` column): its label, which way is better and its range.

    `kind` is the family that computes it: "correlation" (one row per numeric factor),
    "disentanglement" (one row per run, over all factors; `scbeta.metrics.all_scores`),
    "clustering" (one row per run) or "identity" (one row per identity label).
    `higher_is_better` is None for a value that is reported but not a score (a resolution).
    """

    name: str
    label: str
    kind: str
    higher_is_better: bool | None = True
    range: tuple[float, float] = (0.0, 1.0)


def _by_name(*entries: _Entry) -> dict[str, _Entry]:
    return {entry.name: entry for entry in entries}


OBJECTIVES: dict[str, ObjectiveInfo] = _by_name(
    ObjectiveInfo("beta", "β-VAE", {"beta": "β"}),
    ObjectiveInfo("capacity", "Capacity", {"beta": "β", "c_max": "C_max"}),
    ObjectiveInfo("tcvae", "β-TCVAE", {"beta": "β (TC weight)"}, options=("tc_estimator",)),
    ObjectiveInfo("factorvae", "FactorVAE", {"gamma": "γ (TC weight)"},
                  options=("discriminator_width", "discriminator_precision")),
)

BASELINES: dict[str, str] = {"pca": "PCA", "ica": "ICA", "nmf": "NMF"}  # method → label

# Where a dataset's counts come from (`datasets.<name>.source`): measured cells ("real") or simulated.
SOURCES: dict[str, str] = {"simulate": "simulated", "kang2018": "real", "h5ad": "real"}
REAL_SOURCES = tuple(name for name, kind in SOURCES.items() if kind == "real")
SIMULATED_SOURCES = tuple(name for name, kind in SOURCES.items() if kind == "simulated")

METRICS: dict[str, MetricInfo] = _by_name(
    MetricInfo("max_abs_corr", "max |r|", "correlation"),
    MetricInfo("mig", "MIG", "disentanglement"),
    MetricInfo("dci_disentanglement", "DCI disentanglement", "disentanglement"),
    MetricInfo("dci_completeness", "DCI completeness", "disentanglement"),
    # 1 − error, the test R² of predicting the factors: below 0 where a latent predicts worse than their mean.
    MetricInfo("dci_informativeness", "DCI informativeness", "disentanglement", range=(-math.inf, 1.0)),
    MetricInfo("sap", "SAP", "disentanglement"),
    MetricInfo("modularity", "Modularity", "disentanglement"),
    MetricInfo("explicitness", "Explicitness", "disentanglement"),
    *(MetricInfo(f"{aggregate}_{matrix}", f"{aggregate.upper()}-{matrix.upper()}", "disentanglement")
      for matrix in ("smi", "spn") for aggregate in ("lms", "msas", "msgs")),
    MetricInfo("best_ari", "Best ARI", "clustering", range=(-1.0, 1.0)),
    MetricInfo("best_nmi", "Best NMI", "clustering"),
    MetricInfo("best_resolution", "Leiden resolution of the best ARI", "clustering", higher_is_better=None,
               range=(0.0, math.inf)),
    MetricInfo("identity_accuracy", "Balanced accuracy of the best dimension", "identity"),
    # Recovery of a factor's known program genes by its matched dimension (scbeta.programs.recovery).
    MetricInfo("program_auroc", "Program recovery AUROC", "programs"),
    MetricInfo("program_ap", "Program recovery average precision", "programs"),
    # Collapse diagnostics (scbeta.metrics.activity): how much of the latent is used, not scores.
    MetricInfo("active_units", "Active latent dimensions", "collapse", higher_is_better=None, range=(0.0, math.inf)),
    MetricInfo("latent_activity", "Variance of a dimension's posterior mean", "collapse", higher_is_better=None,
               range=(0.0, math.inf)),
    MetricInfo("kl_dim", "KL of a dimension (nats per cell)", "collapse", higher_is_better=None,
               range=(0.0, math.inf)),
    MetricInfo("final_recon", "Final reconstruction term (nats per cell)", "collapse", higher_is_better=None,
               range=(-math.inf, math.inf)),
    MetricInfo("final_kl", "Final KL (nats per cell)", "collapse", higher_is_better=None, range=(0.0, math.inf)),
    # Whether an iterative baseline's fit (FastICA, NMF) converged within its iteration limit: 1 or 0.
    MetricInfo("converged", "Fit converged within its iteration limit", "fit", higher_is_better=None),
)


def metrics_of(kind: str) -> tuple[str, ...]:
    """Names of the metrics of one `kind`, in table order."""
    return tuple(name for name, info in METRICS.items() if info.kind == kind)


# One row of the sweep table and the `uns["run"]` of every latent.
RUN_COLUMNS = ["dataset", "run", "method", "objective", "beta", "c_max", "gamma", "seed"]
DEFAULT_RESOLUTIONS = (0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0)  # Leiden resolutions searched for the best ARI

_NAME_KEYS = {"beta": "beta", "c_max": "cmax", "gamma": "gamma"}  # config key → its tag in run names


def run_name(method: str, objective: str | None, beta: float, c_max: float, gamma: float, seed: int) -> str:
    """The name of one run, used in file names: e.g. `beta_beta10_cmax0_seed0`, `factorvae_gamma10_seed0`,
    `pca_seed0`.

    A trained model's name carries its objective's weights; every objective weighted by β also
    carries C_max (0 where it takes none), which keeps the names of existing results.
    """
    if method != "vae":
        return f"{method}_seed{seed}"
    weights = list(OBJECTIVES[objective].weights)
    keys = ["beta", "c_max"] if "beta" in weights else weights
    values = {"beta": beta, "c_max": c_max, "gamma": gamma}
    tags = "_".join(f"{_NAME_KEYS[key]}{values[key]:g}" for key in keys)
    return f"{objective}_{tags}_seed{seed}"


def is_beta_vae(table: pd.DataFrame) -> pd.Series:
    """Which rows of a runs or metric table (columns `objective`, `c_max`) are β-VAE runs: objective "beta"
    without capacity (C_max 0, or not set: NaN counts as 0). A boolean Series on the table's index."""
    import pandas as pd  # imported here: the registry stays free of the scientific stack at import time

    c_max = pd.to_numeric(table["c_max"], errors="coerce").fillna(0.0)
    return (table["objective"] == "beta") & (c_max == 0)


def schema_enums() -> dict[str, dict[str, list[str]]]:
    """The config schema's definitions of the names above (`objective_name`, `baseline_name`, `source_name`),
    filled in when a config is validated."""
    return {"objective_name": {"enum": list(OBJECTIVES)}, "baseline_name": {"enum": list(BASELINES)},
            "source_name": {"enum": list(SOURCES)}}


__all__ = ["ObjectiveInfo", "MetricInfo", "OBJECTIVES", "BASELINES", "SOURCES", "REAL_SOURCES",
           "SIMULATED_SOURCES", "METRICS", "metrics_of", "RUN_COLUMNS", "DEFAULT_RESOLUTIONS", "run_name",
           "is_beta_vae", "schema_enums"]
