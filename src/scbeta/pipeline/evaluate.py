"""The steps of `workflow/rules/evaluate.smk`: the dataset's UMAP, every run's scores, and the dataset's tables."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import anndata as ad
import pandas as pd

from scbeta import tl
from scbeta._io import read_tsv, write_h5ad, write_tsv
from scbeta.data import numeric_factor
from scbeta.metrics import max_abs_corr
from scbeta.pipeline import logged
from scbeta.registry import DEFAULT_RESOLUTIONS, RUN_COLUMNS


@logged
def embed(*, counts: str, embedding: str, seed: int, n_neighbors: int = 15) -> None:
    """The dataset's own UMAP (`scbeta.tl.embedding`), computed once for all figures."""
    out = tl.embedding(ad.read_h5ad(counts), seed=seed, n_neighbors=n_neighbors, source=counts)
    write_h5ad(out, embedding, {"seed": seed, "n_neighbors": n_neighbors})


def factor_table(obs: pd.DataFrame, factors: Sequence[str], factor_types: Mapping[str, str] | None = None,
                 source: str = "latent") -> pd.DataFrame:
    """The `factors` columns of `obs`, as the types declared in `factor_types` ("categorical" or "numeric");
    undeclared columns keep their dtype (numeric dtypes count as numeric). A factor declared numeric that
    holds other values raises a one-line ValueError naming `source` (`scbeta.data.numeric_factor`)."""
    table = obs[list(factors)].copy()
    for name, declared in (factor_types or {}).items():
        if name not in table:
            continue
        if declared == "categorical":
            table[name] = table[name].astype("category")
        elif declared == "numeric":
            table[name] = numeric_factor(table[name], name, source)
    return table


def activity_rows(adata: ad.AnnData) -> list[tuple[str, str, int, float]]:
    """Collapse diagnostics of one latent as (metric, factor, dim, value) rows.

    `active_units` (dimensions with activity > 0.01) and `latent_activity` per dimension for
    every latent; for a VAE (posterior variances in `obsm["X_latent_var"]`) also `kl_dim`, the
    KL of each dimension in nats per cell, and the last epoch's `final_recon` and `final_kl`
    from `uns["training"]`; for a baseline fitted iteratively, `converged` (1 or 0) from `uns["converged"]`.
    """
    from scbeta.metrics import active_units, kl_per_dim, latent_activity

    z = adata.obsm["X_latent"]
    rows = [("active_units", "", -1, float(active_units(z)))]
    rows += [("latent_activity", "", dim, float(v)) for dim, v in enumerate(latent_activity(z))]
    if "X_latent_var" in adata.obsm:
        rows += [("kl_dim", "", dim, float(v)) for dim, v in enumerate(kl_per_dim(z, adata.obsm["X_latent_var"]))]
    rows += [(name, "", -1, float(value)) for name, value in dict(adata.uns.get("training", {})).items()]
    if "converged" in adata.uns:
        rows.append(("converged", "", -1, float(bool(adata.uns["converged"]))))
    return rows


def score_latent(adata: ad.AnnData, factors: list[str], identity: str | None = None,
                 correlation: str = "pearson", resolutions: tuple[float, ...] = DEFAULT_RESOLUTIONS,
                 n_neighbors: int = 15, seed: int = 0, neighbors_method: str = "umap",
                 factor_types: Mapping[str, str] | None = None, source: str = "latent") -> pd.DataFrame:
    """Every metric of one latent (`obsm["X_latent"]`) against its factors and identity labels, as long rows.

    The collapse diagnostics of `activity_rows`; max |corr| for each numeric factor (declared
    "numeric" in `factor_types`, or undeclared with a numeric dtype); the disentanglement scores
    over all `factors` (numeric or categorical); with an `identity` column, the best Leiden ARI (and
    its NMI and resolution)
    and the per-label balanced accuracy of the best single dimension. Columns: `metric`,
    `factor` (empty for a score over all factors), `dim` (-1 where none), `value`. `source` names
    the latent in errors.
    """
    from scbeta.metrics import all_scores, best_ari, identity_accuracy, is_categorical

    z = adata.obsm["X_latent"]
    table = factor_table(adata.obs, factors, factor_types, source)
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


def with_run(table: pd.DataFrame, run: Mapping[str, Any]) -> pd.DataFrame:
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
                         seed=int(run["seed"]), neighbors_method=neighbors_method, factor_types=factor_types,
                         source=latent)
    write_tsv(with_run(table, run), scores, settings)


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
