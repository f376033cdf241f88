"""Figure 2 of the preprint: simulated data, the factors' UMAPs and their recovery by one latent dimension."""
from __future__ import annotations

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scbeta.plots.panels import (_activity_text, _clean, _colorbar, _factor_label, _is_vae, _latent_colorbar,
                                 _shared_limit, bars_over_beta, umap_panel)
from scbeta.plots.style import (CI_LABEL, FONT_SIZE, OBJECTIVE_LABELS, _categories, _panel_title, _style,
                                collapsed_runs, point_size)

def figure2(embedding: ad.AnnData, table: pd.DataFrame, latents: list[ad.AnnData]) -> plt.Figure:
    """Figure 2: A) UMAP by identity; B) UMAP by each factor; C) max |corr| per factor, β and C_max
    (95 % CI over seeds; hatched where a seed has collapsed); D) UMAP coloured by the latent dimension
    best matched to each factor, one row per latent in `latents` (their `uns["run"]` names β and seed),
    all on one colour scale so that a collapsed model's small spread shows as pale.

    `table` is the dataset's long metric table (its `max_abs_corr` and `active_units` rows are used),
    or a max |corr| table (column `abs_corr`; then nothing is hatched)."""
    _style()
    table = _clean(table)
    collapsed = collapsed_runs(table)
    table = table[table["metric"] == "max_abs_corr"] if "metric" in table else table
    # The preprint's sweep: β-VAE (C_max = 0) and capacity runs; other objectives are left out.
    vae = table[_is_vae(table)]
    table = vae[(vae["objective"] == "beta") | (vae["objective"] == "capacity")]
    if table.empty:
        raise ValueError("the max |corr| table has no β-VAE or capacity runs")
    others = sorted(set(vae["objective"]) - {"beta", "capacity"})
    factors = list(dict.fromkeys(table["factor"]))
    coords = embedding.obsm["X_umap"]
    c_values = sorted(table["c_max"].unique())
    n_half = (len(factors) + 1) // 2
    size = point_size(len(coords), panel_area_in2=1.2)
    fig = plt.figure(figsize=(7.2, 2.9 + 2.1 + 1.45 * len(latents)), layout="constrained")
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=[2.9, 2.1, 1.45 * len(latents) or 0.1])

    left, right = top.subfigures(1, 2, width_ratios=[1, 2.2])
    ax = left.subplots()
    identities = _categories(embedding.obs["identity"])
    umap_panel(ax, coords, embedding.obs["identity"], "", categorical=True, legend="below",
               labels={name: _factor_label(str(name)) for name in identities})
    ax.set_title("A  Identity", loc="left", fontweight="bold")
    axes = np.atleast_2d(right.subplots(2, n_half))
    points = None
    for ax, factor in zip(axes.ravel(), factors):
        points = umap_panel(ax, coords, embedding.obs[factor], _factor_label(factor), colorbar=False,
                            vmin=0.0, vmax=1.0, size=size)
        ax.set_xlabel("")
        ax.set_ylabel("")
    for ax in axes.ravel()[len(factors):]:
        ax.set_axis_off()
    if points is not None:
        _colorbar(points, axes, "program usage (share of expression)")
    _panel_title(right, "B  Generative factors")

    axes = np.atleast_1d(middle.subplots(1, len(c_values), sharey=True))
    subsets = [table[table["c_max"] == c_max].assign(factor=lambda t: t["factor"].map(_factor_label))
               for c_max in c_values]
    any_hatched = any(subset["run"].isin(collapsed).any() for subset in subsets)
    for k, (ax, c_max, subset) in enumerate(zip(axes, c_values, subsets)):
        objective = "β-VAE" if c_max == 0 else "capacity"
        bars_over_beta(ax, subset, "factor", "value", "Latent dim. |r| (95% CI)" if k == 0 else "",
                       f"C_max = {c_max:g} nats ({objective})", legend=k == len(c_values) - 1,
                       legend_betas=table["beta"], collapsed=collapsed, hatched_elsewhere=any_hatched)
        ax.set_ylim(0, 1)
        ax.tick_params(axis="x", rotation=35)
        plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    n_seeds = table.groupby(["beta", "c_max"])["seed"].nunique()
    seeds = f"{n_seeds.min()}" if n_seeds.min() == n_seeds.max() else f"{n_seeds.min()}–{n_seeds.max()}"
    not_shown = ", ".join(OBJECTIVE_LABELS.get(o, o) for o in others)
    _panel_title(middle, f"C  Largest |Pearson r| of each factor with one latent dimension ({CI_LABEL}; "
                         f"{seeds} seed{'s' if n_seeds.max() > 1 else ''} per bar, dots: seeds)"
                         + (f"\n     β-VAE and capacity runs only ({not_shown} not shown)" if others else ""))

    if latents:
        axes = np.atleast_2d(bottom.subplots(len(latents), len(factors)))
        best = [table[table["run"] == latent.uns["run"]["run"]].set_index("factor") for latent in latents]
        shown = [[latent.obsm["X_latent"][:, int(rows.loc[factor, "dim"])] for factor in factors]
                 for latent, rows in zip(latents, best)]
        limit = _shared_limit([values for row in shown for values in row])
        points = None
        for i, (row, latent, rows, values_row) in enumerate(zip(axes, latents, best, shown)):
            run = latent.uns["run"]
            for j, (ax, factor, values) in enumerate(zip(row, factors, values_row)):
                dim = int(rows.loc[factor, "dim"])
                points = umap_panel(ax, coords, values,
                                    f"{_factor_label(factor)} → dim {dim}\n|r| {float(rows.loc[factor, 'value']):.2f}, "
                                    f"SD {np.std(values):.2g}",
                                    diverging=True, limit=limit, colorbar=False, size=size)
                ax.title.set_fontsize(FONT_SIZE - 1)
                ax.set_xlabel("UMAP 1" if i == len(latents) - 1 else "")
                ax.set_ylabel(f"β = {float(run['beta']):g}, seed {int(run['seed'])}\n{_activity_text(latent)}"
                              if j == 0 else "")
        _latent_colorbar(points, axes, limit)
        _panel_title(bottom, "D  UMAP coloured by the best-matched latent dimension (one colour scale for all "
                             "rows: a pale row is a dimension that barely varies)")
    return fig

