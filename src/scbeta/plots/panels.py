"""Panels that the figures share: UMAPs coloured by a value or highlighting cells, bars over β with
their confidence intervals, and the metric-table helpers (cleaning, method labels and styles)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scbeta.metrics.activity import active_units
from scbeta.plots.style import (BASELINE_LABELS, COLLAPSED_HATCH, FONT_SIZE, LATENT_CMAP, OBJECTIVE_LABELS,
                                _EXTRA_MARKERS, _STYLES, _bare_umap_axes, _beta_legend_handles, _categories,
                                _category_colors, beta_color, collapsed_handle, point_size)
from scbeta.stats import mean_ci


def umap_panel(ax, coords: np.ndarray, values, title: str, *, categorical: bool = False,
               cmap: str = "magma", label: str = "", diverging: bool = False, size: float | None = None,
               colors: Mapping | None = None, legend: bool | str = True, colorbar: bool = True,
               vmin: float | None = None, vmax: float | None = None, labels: Mapping | None = None,
               limit: float | None = None):
    """Scatter the UMAP coloured by `values`: a legend for categories, a colour bar for numbers.

    `diverging` centres the colour scale at 0 (symmetric limits at `limit`, by default the 99th
    percentile of |value|; colour bar ticks at −limit, 0, +limit). `size` is the marker area in pt² (default: `point_size`
    of the number of cells); `colors` maps categories to colours (default tab10 in category order)
    and `labels` to their legend text; `legend` "below" puts the legend under the axes. Returns
    the scatter of numbers (for a shared colour bar) or None.
    """
    coords = np.asarray(coords)
    size = point_size(len(coords)) if size is None else size
    order = np.random.default_rng(0).permutation(len(coords))  # no category drawn on top of all others
    coords = coords[order]
    points = None
    if categorical:
        series = pd.Series(np.asarray(values, dtype=object)[order])
        categories = _categories(pd.Series(values)) if colors is None else list(colors)
        colors = _category_colors(categories) if colors is None else colors
        labels = labels or {}
        for name in categories:
            mask = (series == name).to_numpy()
            if mask.any():
                ax.scatter(*coords[mask].T, s=size, color=colors[name], label=str(labels.get(name, name)),
                           rasterized=True, linewidths=0)
        if legend:
            where = ({"loc": "upper center", "bbox_to_anchor": (0.5, -0.08), "ncols": 2} if legend == "below"
                     else {"loc": "center left", "bbox_to_anchor": (1.0, 0.5)})
            ax.legend(markerscale=max(1.0, 3.0 / np.sqrt(size)), frameon=False, handletextpad=0.1,
                      borderaxespad=0.2, columnspacing=0.8, **where)
    else:
        numbers = np.asarray(values, dtype=float)[order]
        kwargs = {"cmap": cmap, "vmin": vmin, "vmax": vmax}
        if diverging:
            limit = _shared_limit([numbers]) if limit is None else limit
            kwargs = {"cmap": LATENT_CMAP if cmap == "magma" else cmap, "vmin": -limit, "vmax": limit}
        points = ax.scatter(*coords.T, c=numbers, s=size, rasterized=True, linewidths=0, **kwargs)
        if colorbar:
            bar = _colorbar(points, ax, label)
            if diverging:
                limit = kwargs["vmax"]
                bar.set_ticks([-limit, 0.0, limit], labels=[f"{-limit:.2g}", "0", f"{limit:.2g}"])
    ax.set_title(title)
    _bare_umap_axes(ax)
    return points


def _colorbar(mappable, ax, label: str):
    bar = plt.colorbar(mappable, ax=ax, shrink=0.75, pad=0.02, aspect=15)
    bar.set_label(label, labelpad=1)
    bar.ax.tick_params(labelsize=FONT_SIZE - 2, width=0.5, length=2, pad=1)
    bar.outline.set_linewidth(0.4)
    return bar


def highlight_panel(ax, coords: np.ndarray, mask, title: str, color="black", size: float | None = None) -> None:
    """The UMAP with the cells in `mask` drawn in `color` on top of all others in light grey."""
    coords = np.asarray(coords)
    mask = np.asarray(mask, dtype=bool)
    size = point_size(len(coords)) if size is None else size
    ax.scatter(*coords[~mask].T, s=size, color="0.85", rasterized=True, linewidths=0, label="other cells")
    ax.scatter(*coords[mask].T, s=size, color=color, rasterized=True, linewidths=0, label=title)
    ax.set_title(f"{title} (n = {int(mask.sum()):,})")
    _bare_umap_axes(ax)


def _grouped_bars(ax, table: pd.DataFrame, x: str | None, y: str, x_order: Sequence, betas: Sequence,
                  width: float = 0.8, seeds: bool = True, bounds: tuple[float, float] = (0.0, 1.0),
                  collapsed: frozenset = frozenset()) -> bool:
    """Bars of mean `y` per `x` (groups) and β (side by side, `beta_color`), 95 % CI over rows
    (`scbeta.stats.mean_ci` within the metric's `bounds`).

    With `x` None the groups are the β values themselves (one bar each, `x_order` ignored). Error
    bars lie within `bounds` by construction, not by clipping. Each bar's gid is `beta=<β:g>`; the seeds behind a bar are
    drawn as small dots when `seeds`. A bar with a run in `collapsed` is hatched; returns whether
    any is.
    """
    betas = sorted(set(betas))
    if x is None:
        cells = [(i, 0.0, width * 0.8, beta, table["beta"] == beta) for i, beta in enumerate(betas)]
        n_groups = len(betas)
    else:
        bar_width = width / max(len(betas), 1)
        cells = [(i, -width / 2 + (j + 0.5) * bar_width, bar_width * 0.92, beta,
                  (table[x] == key) & (table["beta"] == beta))
                 for i, key in enumerate(x_order) for j, beta in enumerate(betas)]
        n_groups = len(x_order)
    any_hatched = False
    for i, offset, bar_width, beta, selected in cells:
        values = table.loc[selected, y].to_numpy(dtype=float)
        mean, low, high, n = mean_ci(values, bounds=bounds)
        if n == 0:
            continue
        position = i + offset
        hatched = "run" in table and bool(table.loc[selected, "run"].isin(collapsed).any())
        any_hatched |= hatched
        color = beta_color(beta)
        # The hatch takes the edge colour: white on dark bars, black on light ones.
        luminance = 0.2126 * color[0] + 0.7152 * color[1] + 0.0722 * color[2]
        bars = ax.bar(position, mean, width=bar_width, color=color, linewidth=0,
                      hatch=COLLAPSED_HATCH if hatched else None, edgecolor="white" if luminance < 0.4 else "black")
        bars.patches[0].set_gid(f"beta={beta:g}")
        if np.isfinite(low):
            ax.errorbar(position, mean, yerr=[[mean - low], [high - mean]], color="black", linewidth=0.7,
                        capsize=1.5, capthick=0.7)
        if seeds and n > 1:
            ax.scatter(np.full(n, position), values[np.isfinite(values)], s=4, color="black", alpha=0.6,
                       linewidths=0, zorder=3)
    ax.set_xticks(range(n_groups))
    ax.set_xlim(-0.6, n_groups - 0.4)
    return any_hatched


def _beta_legend(ax, betas, hatched: bool) -> None:
    """The β legend right of `ax`, with the hatched-bar entry when any bar is hatched."""
    handles = _beta_legend_handles(betas) + ([collapsed_handle()] if hatched else [])
    legend = ax.legend(handles=handles, title="β", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                       handlelength=1.0, borderaxespad=0.2)
    # Over its entries' swatches, not centred over the long hatching entry.
    legend._legend_box.align = "left"


def bars_over_beta(ax, table: pd.DataFrame, x: str, y: str, ylabel: str, title: str, *,
                   legend: bool = True, legend_betas: Sequence[float] | None = None,
                   collapsed: frozenset = frozenset(), hatched_elsewhere: bool = False) -> bool:
    """Bars of `y` per `x` and β (hue), mean with Student-t 95 % CI over seeds (dots: single seeds).

    Bars with a run in `collapsed` are hatched. The legend lists `legend_betas` (default: the β
    values of `table`) and, if a bar here or (`hatched_elsewhere`) in a sibling panel is hatched,
    what hatching means. Returns whether a bar is hatched."""
    order = list(dict.fromkeys(table[x]))
    hatched = _grouped_bars(ax, table, x, y, order, table["beta"].unique(), collapsed=collapsed)
    ax.set_xticklabels(order)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("")
    ax.set_title(title)
    if legend:
        _beta_legend(ax, table["beta"] if legend_betas is None else legend_betas, hatched or hatched_elsewhere)
    return hatched


def _factor_label(name: str) -> str:
    kind, _, number = name.partition("_")
    return f"{kind.capitalize()} {number}" if number else name


def _clean(table: pd.DataFrame) -> pd.DataFrame:
    """The long metric table with `value` (a max |corr| table's `abs_corr` renamed), string objective
    and factor (empty for none) and float β, C_max and γ."""
    table = table.copy()
    if "value" not in table and "abs_corr" in table:
        table = table.rename(columns={"abs_corr": "value"})
    for column, default in (("method", "vae"), ("objective", "beta"), ("factor", "")):
        if column not in table:
            table[column] = default
        table[column] = table[column].fillna("").astype(str)
    for column in ("beta", "c_max", "gamma"):
        table[column] = pd.to_numeric(table[column], errors="coerce") if column in table else 0.0
    table["c_max"] = table["c_max"].fillna(0.0)
    table["gamma"] = table["gamma"].fillna(0.0)
    return table


def _is_vae(table: pd.DataFrame) -> pd.Series:
    return table["method"] == "vae"


def method_label(method: str, objective: str, c_max: float = 0.0) -> str:
    """The name of a method in legends: β-VAE, Capacity (C_max = …), β-TCVAE, FactorVAE, PCA, ICA, NMF."""
    if method != "vae":
        return BASELINE_LABELS.get(method, method.upper())
    label = OBJECTIVE_LABELS.get(objective, objective)
    if objective == "capacity":
        label += f" (C_max = {c_max:g})"
    return label


def _with_labels(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(label=[method_label(m, o, c) for m, o, c in
                               zip(table["method"], table["objective"], table["c_max"])])


def method_style(labels: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    """(marker, colour, line style) for each method label; several capacity settings get their own
    marker and shade."""
    styles: dict[str, tuple[str, str, str]] = {}
    extra = iter(_EXTRA_MARKERS)
    capacity_shades = iter(["#D55E00", "#8C3A00", "#F5A26B", "#5A2500"])
    n_capacity = 0
    for label in labels:
        base = label.split(" (")[0]
        marker, color, line = _STYLES.get(base, (None, "0.3", "-."))
        if base == "Capacity":
            marker = marker if n_capacity == 0 else next(extra, "o")
            color = next(capacity_shades, color)
            n_capacity += 1
        styles[label] = (marker or next(extra, "o"), color, line)
    return styles


def _label_order(labels) -> list[str]:
    rank = {name: i for i, name in enumerate(_STYLES)}
    return sorted(set(labels), key=lambda s: (rank.get(s.split(" (")[0], len(rank)), s))


def _run_values(table: pd.DataFrame, metric: str, factor: str | None = None, how: str = "mean") -> pd.DataFrame:
    """One value per run of `metric` (restricted to `factor` if given; several rows aggregated by `how`)."""
    rows = table[table["metric"] == metric]
    if factor is not None:
        rows = rows[rows["factor"] == factor]
    keys = ["run", "method", "objective", "beta", "c_max", "gamma", "seed"]
    return rows.groupby(keys, dropna=False, as_index=False)["value"].agg(how)


def _shared_limit(panels: Sequence[np.ndarray]) -> float:
    """One symmetric colour limit for several latent panels: the 99th percentile of |value| over all."""
    values = np.abs(np.concatenate([np.asarray(v, dtype=float).ravel() for v in panels])) if panels else np.ones(1)
    values = values[np.isfinite(values)]
    limit = float(np.percentile(values, 99)) if values.size else 1.0
    return limit if limit > 0 else 1.0


def _activity_text(latent: ad.AnnData) -> str:
    """'<k> of <d> dims active' for a latent, from its posterior means."""
    z = latent.obsm["X_latent"]
    return f"{active_units(z)} of {z.shape[1]} dims active"


def _latent_colorbar(points, axes, limit: float) -> None:
    """The one colour bar of a block of latent panels on a shared scale."""
    if points is None:
        return
    bar = _colorbar(points, axes, "latent value (posterior mean)")
    bar.set_ticks([-limit, 0.0, limit], labels=[f"{-limit:.2g}", "0", f"{limit:.2g}"])
