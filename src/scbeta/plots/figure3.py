"""Figure 3 of the preprint: Kang et al. (2018) PBMCs, recovery of the stimulation and of the cell types."""
from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scbeta.plots.panels import (_activity_text, _beta_legend, _clean, _grouped_bars, _is_vae,
                                 _latent_colorbar, _shared_limit, highlight_panel, umap_panel)
from scbeta.plots.style import FONT_SIZE, _categories, _category_colors, _panel_title, _style, collapsed_runs
from scbeta.registry import is_beta_vae
from scbeta.stats import metric_bounds


def _beta_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The β-VAE runs (objective "beta", no capacity): the preprint's Figure 3 sweep."""
    return table[_is_vae(table) & is_beta_vae(table)]


def _beta_axis(ax, betas: Sequence[float]) -> None:
    ax.set_xticklabels([f"{b:g}" for b in betas])
    ax.set_xlabel("β")


def _best_dim(table: pd.DataFrame, run: str, metric: str, factor: str) -> tuple[int, float]:
    rows = table[(table["run"] == run) & (table["metric"] == metric) & (table["factor"] == factor)]
    if rows.empty:
        raise ValueError(f"no {metric} row for factor {factor!r} of run {run!r} in the metric table")
    row = rows.iloc[0]
    return int(row["dim"]), float(row["value"])


def figure3(embedding: ad.AnnData, table: pd.DataFrame, latents: list[ad.AnnData], identity: str = "cell",
            stimulation: str = "stim_indicator",
            targets: Sequence[str] = ("B cells", "Dendritic cells", "Megakaryocytes")) -> plt.Figure:
    """Figure 3 (Kang et al. 2018 PBMCs, IFN-β stimulation).

    A) UMAP by cell type. B) "Exp. factor recovery": largest |r| between the stimulation indicator
    and one latent dimension per β. C) "Clustering recovery": best ARI of Leiden clusters against
    the cell types per β. D) Per cell type, balanced accuracy of the best single latent dimension
    per β. B–D: β-VAE runs only (objective "beta"), mean ± Student-t 95 % CI over seeds, dots are
    seeds. E) For each of `targets` present in the data and for the stimulated cells: the cells on
    the UMAP (top) and, below, the UMAP coloured by the run's best-matched latent dimension for
    each latent of `latents` (e.g. β = 1 and β = 2, first seed), on a colour scale centred at 0.
    """
    _style()
    table = _clean(table)
    collapsed = collapsed_runs(table)
    runs = _beta_runs(table)
    if runs.empty:
        raise ValueError("the metric table has no β-VAE runs (method 'vae', objective 'beta')")
    only_beta = bool((_is_vae(table) & (table["objective"] != "beta")).any() or (~_is_vae(table)).any())
    only = " (β-VAE runs only)" if only_beta else ""
    second_line = f"\n{only.strip()}" if only_beta else ""
    betas = sorted(runs["beta"].unique())
    coords = embedding.obsm["X_umap"]
    cell_types = _categories(embedding.obs[identity])
    colors = _category_colors(cell_types)
    present = [t for t in targets if t in cell_types]
    absent = [t for t in targets if t not in cell_types]
    n_seeds = runs.groupby("beta")["seed"].nunique()
    seed_text = f"{n_seeds.min()}" if n_seeds.min() == n_seeds.max() else f"{n_seeds.min()}–{n_seeds.max()}"
    corr_rows = runs[(runs["metric"] == "max_abs_corr") & (runs["factor"] == stimulation)]

    n_targets = len(present) + (not corr_rows.empty)
    latents = latents if n_targets else []  # panel E has nothing to show
    width = max(7.2, 1.85 * n_targets + 0.4)
    e_rows = n_targets if n_targets <= 2 else 1 + len(latents)
    e_height = 1.9 * e_rows + 0.3 if latents else 0.0
    fig = plt.figure(figsize=(width, 2.3 + 2.2 + e_height + 0.2), layout="constrained")
    subfigs = fig.subfigures(3 if latents else 2, 1, height_ratios=[2.3, 2.2, e_height][:3 if latents else 2])
    top, middle = subfigs[0], subfigs[1]

    # A–C
    ax_a, ax_b, ax_c = top.subplots(1, 3, gridspec_kw={"width_ratios": [1.45, 1, 1]})
    umap_panel(ax_a, coords, embedding.obs[identity], "", categorical=True, colors=colors)
    ax_a.set_title("A  Cell type", loc="left", fontweight="bold")

    if corr_rows.empty:  # e.g. only categorical factors: no correlation to show
        ax_b.set_xticks(range(len(betas)))
        ax_b.set_xlim(-0.5, len(betas) - 0.5)
        ax_b.text(0.5, 0.5, f"no numeric factor:\n{stimulation!r} has no |r| score", transform=ax_b.transAxes,
                  ha="center", va="center", color="0.3")
        hatched = False
    else:
        hatched = _grouped_bars(ax_b, corr_rows, None, "value", betas, betas, collapsed=collapsed)
    ax_b.set_ylim(0, 1)
    ax_b.set_ylabel("Max |Pearson r|, stimulation vs. one dim.")
    ax_b.set_title(f"B  Exp. factor recovery{second_line}", loc="left", fontweight="bold")

    ari = runs[runs["metric"] == "best_ari"]
    hatched |= _grouped_bars(ax_c, ari, None, "value", betas, betas, bounds=metric_bounds("best_ari"), collapsed=collapsed)
    ax_c.set_ylim(0, 1)
    ax_c.set_ylabel("Best adjusted Rand index vs. cell type")
    ax_c.set_title(f"C  Clustering recovery{second_line}", loc="left", fontweight="bold")
    for ax in (ax_b, ax_c):
        _beta_axis(ax, betas)

    # D
    ax_d = middle.subplots()
    accuracy = runs[runs["metric"] == "identity_accuracy"]
    order = [c for c in cell_types if c in set(accuracy["factor"])]
    hatched |= _grouped_bars(ax_d, accuracy, "factor", "value", order, betas, width=0.82, collapsed=collapsed)
    ax_d.set_xticklabels(order)
    ax_d.set_ylim(0.5, 1.0)
    ax_d.set_ylabel("Balanced accuracy, best single dim.\n(chance = 0.5)")
    _beta_legend(ax_d, betas, hatched)
    ax_d.set_title(f"D  Cell-type identity recovered by one latent dimension{only}",
                   loc="left", fontweight="bold")
    plural = "s" if n_seeds.max() > 1 else ""
    ax_d.text(1.02, 0.0, f"B–D: bars show\nmean ± 95% CI\nover {seed_text} seed{plural}\nper β; dots:\nsingle seeds",
              transform=ax_d.transAxes, ha="left", va="bottom", fontsize=FONT_SIZE - 2, color="0.3")

    # E: one column per target (rows: the target cells, then each latent), or, with at most two
    # targets, one row per target (columns: the target cells, then each latent) to keep panels small.
    if latents:
        bottom = subfigs[2]
        by_row = n_targets <= 2
        shape = (n_targets, 1 + len(latents)) if by_row else (1 + len(latents), n_targets)
        grid = np.atleast_2d(bottom.subplots(*shape))
        axes = grid if by_row else grid.T  # axes[target, 0] shows the cells, axes[target, k] latent k
        cell_labels = embedding.obs[identity].astype(object).to_numpy()
        panels = [(t, cell_labels == t, "identity_accuracy", t, colors[t]) for t in present]
        if not corr_rows.empty:
            stim_values = pd.to_numeric(embedding.obs[stimulation], errors="coerce").to_numpy(dtype=float)
            panels.append(("IFN-β stimulated", stim_values > 0.5, "max_abs_corr", stimulation, "#7F0000"))
        best = [[_best_dim(table, latent.uns["run"]["run"], metric, factor) for latent in latents]
                for _, _, metric, factor, _ in panels]
        limit = _shared_limit([latent.obsm["X_latent"][:, dim] for row in best
                               for latent, (dim, _) in zip(latents, row) if dim >= 0])
        points = None
        for row, (name, mask, metric, _, color), row_best in zip(axes, panels, best):
            highlight_panel(row[0], coords, mask, name, color=color)
            score_name = "|r|" if metric == "max_abs_corr" else "bal. acc."
            for ax, latent, (dim, value) in zip(row[1:], latents, row_best):
                run = latent.uns["run"]
                if dim < 0:
                    ax.set_axis_off()
                    ax.set_title(f"β = {float(run['beta']):g}: no score")
                    continue
                values = latent.obsm["X_latent"][:, dim]
                points = umap_panel(ax, coords, values,
                                    f"β = {float(run['beta']):g}: dim {dim} ({score_name} {value:.2f})\n"
                                    f"SD {np.std(values):.2g}; {_activity_text(latent)}",
                                    diverging=True, limit=limit, colorbar=False)
        for i, grid_row in enumerate(grid):
            for j, ax in enumerate(grid_row):
                if j > 0:
                    ax.set_ylabel("")
                if i < len(grid) - 1:
                    ax.set_xlabel("")
        _latent_colorbar(points, grid, limit)
        where = "left" if by_row else "top"
        note = f" (not in these data: {', '.join(absent)})" if absent else ""
        _panel_title(bottom, f"E  Target cells ({where}) and the latent dimension that best recovers them{note}; "
                             "one colour scale for all latents")
    return fig

