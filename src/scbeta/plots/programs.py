"""The gene-program figure: top genes of each latent dimension at each β, and program recovery against β.

Styles (fonts, β and method colours, confidence intervals) are those of `scbeta.plots.style`.
"""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from scbeta.plots.panels import _clean, _factor_label, _is_vae, _label_order, _with_labels, method_style
from scbeta.plots.style import BASELINE_LABELS, CI_LABEL, FONT_SIZE, LATENT_CMAP, _panel_title, _style
from scbeta.plots.summary import _metric_against_weight, _regularisation_weight, _weight_axis

RECOVERY_METRIC = "program_auroc"


def _matched_factors(table: pd.DataFrame, run: str) -> dict[int, list[str]]:
    """Dimension → the factors whose max |corr| dimension it is, in `run`."""
    rows = table[(table["run"] == run) & (table["metric"] == "max_abs_corr")]
    matched: dict[int, list[str]] = {}
    for row in rows.itertuples():
        matched.setdefault(int(row.dim), []).append(_factor_label(str(row.factor)))
    return matched


def top_gene_matrix(programs: pd.DataFrame, n_genes_per_dim: int) -> pd.DataFrame:
    """Genes (rows: the `n_genes_per_dim` strongest of each dimension, in dimension order) × dimensions
    (columns) of program scores."""
    wide = programs.pivot(index="gene", columns="dim", values="score")
    top = programs[programs["rank"] <= n_genes_per_dim].sort_values(["dim", "rank", "gene"], kind="stable")
    genes = list(dict.fromkeys(top.groupby("dim").head(n_genes_per_dim)["gene"]))
    return wide.loc[genes]


def _heatmap(ax, matrix: pd.DataFrame, matched: Mapping[int, list[str]], limit: float, title: str):
    image = ax.imshow(matrix.to_numpy(), cmap=LATENT_CMAP, vmin=-limit, vmax=limit, aspect="auto",
                      interpolation="nearest")
    ax.set_yticks(range(len(matrix)), matrix.index, fontsize=FONT_SIZE - 2)
    labels = [f"{d}" + (f" {', '.join(matched[d])}" if d in matched else "") for d in matrix.columns]
    ax.set_xticks(range(matrix.shape[1]), labels, rotation=90, fontsize=FONT_SIZE - 2)
    ax.set_title(title)
    ax.tick_params(length=0)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    return image


def _recovery_panel(ax, rows: pd.DataFrame, factor: str, labels, styles, ticks) -> None:
    _metric_against_weight(ax, rows, RECOVERY_METRIC, labels, styles)
    ax.axhline(0.5, color="0.6", linewidth=0.6, linestyle=(0, (1, 2)), zorder=0)
    _weight_axis(ax, ticks)
    ax.set_ylim(0.0, 1.02)
    ax.grid(True, axis="y", linewidth=0.3, color="0.9")
    ax.set_axisbelow(True)
    ax.set_title(_factor_label(factor))
    ax.set_xlabel("β (FactorVAE: γ)" if (rows["objective"] == "factorvae").any() else "β")


def programs_figure(table: pd.DataFrame, programs: Mapping[str, pd.DataFrame], n_genes_per_dim: int = 2) -> plt.Figure:
    """A: per β-VAE run (`programs`: run name → `scbeta.tl.gene_programs` table), the program scores
    of each dimension's strongest genes, with each dimension's matched factor (max |corr|, from the
    metric `table`) in its label. B: per factor with known program genes, the AUROC of its matched
    dimension's gene ranking against β (mean and 95 % CI over seeds; baselines as horizontal lines;
    dotted: chance, 0.5)."""
    _style()
    cleaned = _with_labels(_clean(table))
    runs = (cleaned[cleaned["run"].isin(list(programs))].drop_duplicates("run")
            .sort_values("beta")[["run", "beta"]])
    recovery = cleaned[cleaned["metric"] == RECOVERY_METRIC].assign(x=lambda d: _regularisation_weight(d))
    factors = list(dict.fromkeys(recovery["factor"]))

    n_heatmaps = max(len(runs), 1)
    width = max(1.55 * n_heatmaps + 1.0, 1.5 * max(len(factors), 1) + 2.2)
    fig = plt.figure(figsize=(width, 6.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.55, 1.0], hspace=0.04)

    matrices = {run: top_gene_matrix(programs[run], n_genes_per_dim) for run in runs["run"]}
    limit = max([float(np.nanmax(np.abs(m.to_numpy()))) for m in matrices.values() if m.size] + [1e-9])
    axes = np.atleast_1d(top.subplots(1, n_heatmaps))
    image = None
    for ax, run in zip(axes, runs.itertuples()):
        image = _heatmap(ax, matrices[run.run], _matched_factors(cleaned, run.run), limit, f"β = {run.beta:g}")
    if image is None:
        axes[0].set_axis_off()
        axes[0].text(0.5, 0.5, "no β-VAE runs", ha="center", va="center", color="0.5")
    else:
        top.colorbar(image, ax=list(axes), shrink=0.6, label="log2 fold change\nacross the dimension's range")
        top.supxlabel("latent dimension (matched factor)", fontsize=FONT_SIZE)
    _panel_title(top, "A  Strongest genes of each dimension (β-VAE, first seed)")

    labels = _label_order(recovery["label"])
    styles = method_style(labels)
    ticks = sorted(x for x in recovery.loc[_is_vae(recovery), "x"].unique() if np.isfinite(x) and x > 0)
    # At least three columns, so that one factor's panel is not stretched across the figure.
    panels = np.atleast_1d(bottom.subplots(1, max(len(factors), 3), sharey=True))
    for ax in panels[max(len(factors), 1):]:
        ax.set_axis_off()
    for ax, factor in zip(panels, factors):
        _recovery_panel(ax, recovery[recovery["factor"] == factor], factor, labels, styles, ticks)
    panels[0].set_ylabel("program AUROC\n(matched dimension)")
    if not factors:
        panels[0].set_axis_off()
        panels[0].text(0.5, 0.5, "no factor with known program genes", ha="center", va="center", color="0.5")
    else:
        handles = [Line2D([], [], color=styles[label][1], linestyle=styles[label][2],
                          marker="" if label in BASELINE_LABELS.values() else styles[label][0], markersize=3,
                          label=label) for label in labels]
        handles.append(Line2D([], [], color="0.6", linewidth=0.6, linestyle=(0, (1, 2)), label="chance"))
        bottom.legend(handles=handles, loc="outside right upper", frameon=False, title=CI_LABEL)
    _panel_title(bottom, "B  Recovery of each factor's program genes by its matched dimension")
    return fig
