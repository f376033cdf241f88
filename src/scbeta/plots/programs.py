"""The gene-program figure: top genes of each latent dimension at each β, and program recovery against β
(and against γ for FactorVAE, on an axis of its own).

Styles (fonts, β and method colours, confidence intervals) are those of `scbeta.plots.style`.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D

from scbeta.plots.panels import _clean, _factor_label, _is_vae, _label_order, _with_labels, method_style
from scbeta.plots.style import (BASELINE_LABELS, CI_LABEL, FONT_SIZE, LATENT_CMAP, _category_colors, _panel_title,
                                _style, active_units_of, collapsed_marker_handle, collapsed_runs, dataset_label)
from scbeta.plots.summary import _metric_against_weight, _weight_axis, _weighted_by_gamma, weight_columns

RECOVERY_METRIC = "program_auroc"
HEATMAPS_PER_ROW = 4
FACTORS_PER_ROW = 3
# Widths in inches: of a heatmap's column and a program strip's column, of what a heatmap's slot needs
# beside them (gene names, colour bar), of a collapsed run's slot, and of panel B's parts.
_DIM_WIDTH, _STRIP_WIDTH, _HEATMAP_EXTRA, _COLLAPSED_SLOT = 0.12, 0.09, 1.15, 0.95
_BETA_PANEL, _GAMMA_PANEL, _PANEL_EXTRA, _LEGEND_WIDTH, _MAX_BETA_PANEL = 1.3, 0.45, 0.5, 1.45, 2.8


def _matched_factors(table: pd.DataFrame, run: str) -> dict[int, list[str]]:
    """Dimension → the factors whose max |corr| dimension it is, in `run`."""
    rows = table[(table["run"] == run) & (table["metric"] == "max_abs_corr")]
    matched: dict[int, list[str]] = {}
    for row in rows.itertuples():
        matched.setdefault(int(row.dim), []).append(str(row.factor))
    return matched


def top_gene_matrix(programs: pd.DataFrame, n_genes_per_dim: int) -> pd.DataFrame:
    """Genes (rows: the `n_genes_per_dim` strongest of each dimension, in dimension order) × dimensions
    (columns) of program scores."""
    wide = programs.pivot(index="gene", columns="dim", values="score")
    top = programs[programs["rank"] <= n_genes_per_dim].sort_values(["dim", "rank", "gene"], kind="stable")
    genes = list(dict.fromkeys(top.groupby("dim").head(n_genes_per_dim)["gene"]))
    return wide.loc[genes]


def _factors_label(factors: list[str]) -> str:
    """The factors matched to one dimension, short: factors of one kind share its word ("Identity 01+02")."""
    labels = [_factor_label(factor) for factor in factors]
    words = [label.rpartition(" ") for label in labels]
    if len(labels) > 1 and all(word == words[0][0] and word for word, _, _ in words):
        return f"{words[0][0]} " + "+".join(number for _, _, number in words)
    return "+".join(labels)


def _bare(ax) -> None:
    ax.tick_params(length=0)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)


def _heatmap(ax, matrix: pd.DataFrame, matched: Mapping[int, list[str]], title: str, colors: Mapping[str, tuple],
             gene_labels: bool = True):
    """The matrix on a colour scale of its own, symmetric about 0 at its largest |score|; a column's label
    names its matched factors, in their program colour where there is one."""
    values = matrix.to_numpy(dtype=float)
    finite = np.abs(values[np.isfinite(values)])
    limit = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    image = ax.imshow(values, cmap=LATENT_CMAP, vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(len(matrix)), matrix.index if gene_labels else [], fontsize=FONT_SIZE - 2)
    labels = [f"{d}" + (f" {_factors_label(matched[d])}" if d in matched else "") for d in matrix.columns]
    ax.set_xticks(range(matrix.shape[1]), labels, rotation=90, fontsize=FONT_SIZE - 2)
    for tick, dim in zip(ax.get_xticklabels(), matrix.columns):
        factors = [f for f in matched.get(dim, []) if f in colors]
        if len(factors) == 1:
            tick.set_color(colors[factors[0]])
    ax.set_title(title)
    _bare(ax)
    return image


def _program_strip(ax, genes: pd.Index, program_genes: Mapping[str, Collection[str]],
                   colors: Mapping[str, tuple]) -> None:
    """Beside a heatmap's rows: one column per factor, filled in the factor's colour where the gene is one of
    its known program genes."""
    factors = list(program_genes)
    cells = np.ones((len(genes), len(factors), 4))
    for j, factor in enumerate(factors):
        members = set(program_genes[factor])
        for i, gene in enumerate(genes):
            if gene in members:
                cells[i, j] = to_rgba(colors[factor])
    ax.imshow(cells, aspect="auto", interpolation="nearest")
    ax.set_yticks(range(len(genes)), genes, fontsize=FONT_SIZE - 2)
    ax.set_xticks(range(len(factors)), [_factor_label(f) for f in factors], rotation=90, fontsize=FONT_SIZE - 2)
    for tick, factor in zip(ax.get_xticklabels(), factors):
        tick.set_color(colors[factor])
    ax.set_xticks(np.arange(len(factors) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(genes) + 1) - 0.5, minor=True)
    ax.grid(True, which="minor", color="0.85", linewidth=0.3)
    ax.tick_params(which="minor", length=0)
    _bare(ax)
    ax.set_gid("program-strip")


def _collapsed_panel(ax, title: str, n_active: int) -> None:
    """An empty heatmap for a collapsed run, which says so: its programs are decoder noise."""
    ax.set_xticks([])
    ax.set_yticks([])
    _bare(ax)
    ax.set_facecolor("0.96")
    ax.text(0.5, 0.5, f"collapsed\n({n_active} active dim{'s' if n_active != 1 else ''})", transform=ax.transAxes,
            ha="center", va="center", color="0.35", fontsize=FONT_SIZE + 1)
    ax.set_title(title)


def _recovery_panel(ax, rows: pd.DataFrame, axis: str, labels, styles, collapsed: frozenset) -> bool:
    any_open = _metric_against_weight(ax, rows, RECOVERY_METRIC, labels, styles, collapsed)
    ax.axhline(0.5, color="0.6", linewidth=0.6, linestyle=(0, (1, 2)), zorder=0)
    _weight_axis(ax, sorted(x for x in rows.loc[_is_vae(rows), "x"].unique() if np.isfinite(x) and x > 0))
    ax.set_ylim(0.0, 1.02)
    ax.grid(True, axis="y", linewidth=0.3, color="0.9")
    ax.set_axisbelow(True)
    ax.set_xlabel(axis if axis == "β" else f"{axis} (FactorVAE)")
    return any_open


def _heatmap_block(top, runs: pd.DataFrame, matrices: Mapping[str, pd.DataFrame], cleaned: pd.DataFrame,
                   program_genes: Mapping[str, Collection[str]], colors: Mapping[str, tuple], per_row: int,
                   width: float) -> None:
    """Panel A: per run a strip of known program genes (where given) and its heatmap, `per_row` runs a row of
    `width` inches; a collapsed run takes a narrow slot."""
    collapsed, active = collapsed_runs(cleaned), active_units_of(cleaned)
    chunks = [runs.iloc[k:k + per_row] for k in range(0, len(runs), per_row)]
    for sub, chunk in zip(np.atleast_1d(top.subfigures(len(chunks), 1)), chunks):
        ratios: list[float] = []
        slots = 0.0
        for run in chunk.itertuples():
            if run.run in collapsed:
                ratios.append(_COLLAPSED_SLOT)
                slots += _COLLAPSED_SLOT
            else:
                n_dims = matrices[run.run].shape[1]
                ratios += ([_STRIP_WIDTH * len(program_genes)] if program_genes else []) + [_DIM_WIDTH * n_dims]
                slots += _DIM_WIDTH * n_dims + _STRIP_WIDTH * len(program_genes) + _HEATMAP_EXTRA
        # A short row keeps its slots' widths; the rest of the row stays empty.
        spare = width - 0.3 - slots
        grid = sub.add_gridspec(1, len(ratios) + (spare > 0.2), width_ratios=ratios + ([spare] if spare > 0.2 else []))
        column = 0
        for run in chunk.itertuples():
            title = f"β = {run.beta:g}"
            if run.run in collapsed:
                _collapsed_panel(sub.add_subplot(grid[0, column]), title, active.get(run.run, 0))
                column += 1
                continue
            if program_genes:
                _program_strip(sub.add_subplot(grid[0, column]), matrices[run.run].index, program_genes, colors)
                column += 1
            ax = sub.add_subplot(grid[0, column])
            column += 1
            image = _heatmap(ax, matrices[run.run], _matched_factors(cleaned, run.run), title, colors,
                             gene_labels=not program_genes)
            bar = sub.colorbar(image, ax=ax, shrink=0.5, aspect=12, pad=0.03)
            limit = image.get_clim()[1]
            bar.set_ticks([-limit, 0.0, limit], labels=[f"{-limit:.2g}", "0", f"{limit:.2g}"])
            bar.ax.tick_params(labelsize=FONT_SIZE - 2, width=0.5, length=2, pad=1)
            bar.outline.set_linewidth(0.4)


def _recovery_block(bottom, recovery: pd.DataFrame, factors: list[str], width: float, collapsed: frozenset) -> None:
    """Panel B: per factor the AUROC against β and, with FactorVAE runs, against γ beside it, `FACTORS_PER_ROW`
    factors a row of `width` inches; the legend after the first row's panels."""
    if not factors:
        ax = bottom.subplots()
        ax.set_axis_off()
        ax.text(0.0, 0.5, "no factor with known program genes", va="center", color="0.5")
        return
    labels = _label_order(recovery["label"])
    styles = method_style(labels)
    with_gamma = bool(_weighted_by_gamma(recovery).any())
    per_row = min(len(factors), FACTORS_PER_ROW)
    n_rows = -(-len(factors) // per_row)
    gamma_slot = (_GAMMA_PANEL + 0.1) * with_gamma
    # β panels widen into spare room, up to a width at which a line over a few β still reads as one.
    room = (width - 0.3 - _LEGEND_WIDTH) / per_row - _PANEL_EXTRA - gamma_slot
    beta_panel = float(np.clip(room, _BETA_PANEL, _MAX_BETA_PANEL))
    ratios = [beta_panel] + ([_GAMMA_PANEL] if with_gamma else [])
    spare = width - 0.3 - _LEGEND_WIDTH - per_row * (beta_panel + _PANEL_EXTRA + gamma_slot)
    grid = bottom.add_gridspec(n_rows, per_row * len(ratios) + 2,
                               width_ratios=ratios * per_row + [_LEGEND_WIDTH, max(spare, 0.01)])
    first = None
    any_open = False
    for k, factor in enumerate(factors):
        row, col = divmod(k, per_row)
        for j, (axis, rows) in enumerate(weight_columns(recovery[recovery["factor"] == factor], with_gamma)):
            ax = bottom.add_subplot(grid[row, col * len(ratios) + j], sharey=first)
            first = first or ax
            any_open |= _recovery_panel(ax, rows, axis, labels, styles, collapsed)
            if j == 0:
                ax.set_title(_factor_label(factor))
            else:
                ax.tick_params(labelleft=False)
            if col == 0 and j == 0:
                ax.set_ylabel("program AUROC\n(matched dimension)")
    legend_ax = bottom.add_subplot(grid[0, per_row * len(ratios)])
    legend_ax.set_axis_off()
    bottom.add_subplot(grid[0, -1]).set_axis_off()
    handles = [Line2D([], [], color=styles[label][1], linestyle=styles[label][2],
                      marker="" if label in BASELINE_LABELS.values() else styles[label][0], markersize=3,
                      label=label) for label in labels]
    handles.append(Line2D([], [], color="0.6", linewidth=0.6, linestyle=(0, (1, 2)), label="chance"))
    if any_open:
        handles.append(collapsed_marker_handle("a seed with"))
    legend = legend_ax.legend(handles=handles, loc="upper left", frameon=False, title=CI_LABEL, borderaxespad=0.0)
    legend._legend_box.align = "left"


def programs_figure(table: pd.DataFrame, programs: Mapping[str, pd.DataFrame], n_genes_per_dim: int = 2,
                    program_genes: Mapping[str, Collection[str]] | None = None) -> plt.Figure:
    """A: per β-VAE run (`programs`: run name → `scbeta.tl.gene_programs` table), the program scores
    of each dimension's strongest genes, each heatmap on a colour scale of its own, with each
    dimension's matched factor (max |corr|, from the metric `table`) in its label; beside the genes,
    the known programs they belong to (`program_genes`: factor → gene names, e.g. the simulator's
    `var["<factor>_gene"]`). A collapsed run (fewer than 2 active dimensions, from the table's
    `active_units` rows) is an empty panel that says so. B: per factor with known program genes, the
    AUROC of its matched dimension's gene ranking against β, and against γ for FactorVAE beside it
    (mean and 95 % CI over seeds, open markers where a seed has collapsed; baselines as horizontal
    lines; dotted: chance, 0.5)."""
    _style()
    program_genes = dict(program_genes or {})
    cleaned = _with_labels(_clean(table))
    runs = (cleaned[cleaned["run"].isin(list(programs))].drop_duplicates("run")
            .sort_values("beta")[["run", "beta"]])
    recovery = cleaned[cleaned["metric"] == RECOVERY_METRIC]
    factors = list(dict.fromkeys(recovery["factor"]))
    colors = _category_colors(list(dict.fromkeys([*program_genes, *factors])))
    matrices = {run: top_gene_matrix(programs[run], n_genes_per_dim) for run in runs["run"]}

    collapsed = collapsed_runs(cleaned)
    n_genes = max([m.shape[0] for m in matrices.values()] + [1])
    # Rows of about equal length: 6 runs as 3 + 3 rather than 4 + 2.
    n_heatmap_rows = -(-max(len(runs), 1) // HEATMAPS_PER_ROW)
    per_row = -(-max(len(runs), 1) // n_heatmap_rows)
    slots = [_COLLAPSED_SLOT if run in collapsed
             else _DIM_WIDTH * matrices[run].shape[1] + _STRIP_WIDTH * len(program_genes) + _HEATMAP_EXTRA
             for run in runs["run"]]
    heatmap_width = max([sum(slots[k:k + per_row]) for k in range(0, len(slots), per_row)] + [0.0]) + 0.3
    with_gamma = bool(_weighted_by_gamma(recovery).any())
    factors_per_row = min(max(len(factors), 1), FACTORS_PER_ROW)
    recovery_width = (factors_per_row * (_BETA_PANEL + _PANEL_EXTRA + (_GAMMA_PANEL + 0.1) * with_gamma)
                      + _LEGEND_WIDTH + 0.3)
    width = max(heatmap_width, recovery_width, 7.2)
    top_height = n_heatmap_rows * (0.09 * n_genes + 1.5) + 0.3
    bottom_height = -(-len(factors) // factors_per_row) * 2.0 + 0.3 if factors else 0.6
    fig = plt.figure(figsize=(width, top_height + bottom_height), layout="constrained")
    datasets = sorted(set(cleaned["dataset"])) if "dataset" in cleaned else []
    if len(datasets) == 1:
        fig.suptitle(f"Gene programs of the latent dimensions: {dataset_label(datasets[0])}", x=0.01, ha="left",
                     fontsize=FONT_SIZE + 1)
    top, bottom = fig.subfigures(2, 1, height_ratios=[top_height, bottom_height], hspace=0.04)

    if runs.empty:
        ax = top.subplots()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no β-VAE runs", ha="center", va="center", color="0.5")
    else:
        _heatmap_block(top, runs, matrices, cleaned, program_genes, colors, per_row, width)
        top.supxlabel("latent dimension (matched factor); each heatmap on its own colour scale: "
                      "log2 fold change across the dimension's range", fontsize=FONT_SIZE)
    strip = " and the known programs of its genes (filled)" if program_genes else ""
    _panel_title(top, f"A  Strongest genes of each dimension{strip} (β-VAE, first seed)")

    _recovery_block(bottom, recovery, factors, width, collapsed)
    _panel_title(bottom, "B  Recovery of each factor's program genes by its matched dimension")
    return fig
