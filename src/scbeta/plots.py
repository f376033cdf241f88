"""Figures: the preprint's panels from cached embeddings, latents and score tables.

Every function returns a matplotlib Figure; saving (PNG and vector PDF) is the caller's job
(`scbeta._io.save_figure`). A β value has the same colour in every figure (`beta_color`), a
method the same marker (`method_style`), and confidence intervals are the same everywhere:
mean ± Student-t 95 % interval over seeds (`scbeta.stats.mean_ci`). A bar whose models include
a collapsed one (fewer than 2 active latent dimensions) is hatched.
"""
from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import anndata as ad
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FixedLocator, NullLocator  # noqa: E402

from scbeta.metrics.activity import MIN_ACTIVE_UNITS  # noqa: E402
from scbeta.registry import BASELINES, METRICS, OBJECTIVES, metrics_of  # noqa: E402
from scbeta.stats import mean_ci  # noqa: E402

BETA_CMAP = "plasma"
# The β values of the preprint's and the default sweeps, evenly spaced along the colour map so that
# neighbours (1, 1.5, 2, 3 …) differ visibly; other β fall between their neighbours on a log scale,
# β below 1 or above 50 take the end colours.
BETA_GRID = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 10.0, 30.0, 50.0)
BETA_CMAP_END = 0.88  # plasma beyond this is too pale on white
FONT_SIZE = 7
LATENT_CMAP = "RdBu_r"  # latent values: diverging, centred at 0
BASELINE_COLOR = "0.45"  # baselines have no β: grey wherever β sets the colour
CI_LABEL = "mean ± 95% CI over seeds"
COLLAPSED_HATCH = "////"
COLLAPSED_LABEL = f"hatched: a seed with < {MIN_ACTIVE_UNITS}\nactive latent dims (collapsed)"

OBJECTIVE_LABELS = {name: info.label for name, info in OBJECTIVES.items()}
BASELINE_LABELS = BASELINES
# (marker, line colour in metric-vs-β plots, line style) per method; baselines grey, which no
# objective uses, told apart by their dashes
_STYLES = {"β-VAE": ("o", "black", "-"), "Capacity": ("s", "#D55E00", "-"), "β-TCVAE": ("^", "#CC79A7", "-"),
           "FactorVAE": ("D", "#0072B2", "--"), "PCA": ("P", BASELINE_COLOR, ":"),
           "ICA": ("X", BASELINE_COLOR, (0, (5, 2))), "NMF": ("*", BASELINE_COLOR, (0, (3, 1, 1, 1)))}
_EXTRA_MARKERS = ("p", "h", "8", "v", "<", ">")

# The scores of a latent (dimensionless); not settings such as the chosen Leiden resolution.
AGGREGATE_METRICS = (*metrics_of("disentanglement"), "best_ari", "best_nmi")
# Scores that can fall below 0: (mark beside the name, why)
NEGATIVE_SCORES = {"dci_informativeness": ("*", "DCI informativeness is 1 − error (the test R² of predicting a "
                                                "factor): below 0 the latent predicts it worse than its mean"),
                   "best_ari": ("†", "ARI below 0: less agreement with the cell types than chance")}
UNIT_INTERVAL_METRICS = frozenset(AGGREGATE_METRICS) - set(NEGATIVE_SCORES)
METRIC_LABELS = {name: info.label for name, info in METRICS.items()}


# ----------------------------------------------------------------------------------------------
# Shared style
# ----------------------------------------------------------------------------------------------

def beta_color(beta: float) -> tuple[float, float, float, float]:
    """The colour of a β value, the same in every figure (`BETA_GRID` evenly spaced along `BETA_CMAP`)."""
    grid = np.log(BETA_GRID)
    position = np.interp(np.log(max(float(beta), 1e-12)), grid, np.linspace(0.0, 1.0, len(grid)))
    return plt.get_cmap(BETA_CMAP)(BETA_CMAP_END * position)


def _style() -> None:
    plt.rcParams.update({"font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE + 1, "axes.labelsize": FONT_SIZE,
                         "legend.fontsize": FONT_SIZE - 1, "legend.title_fontsize": FONT_SIZE - 1,
                         "xtick.labelsize": FONT_SIZE - 1, "ytick.labelsize": FONT_SIZE - 1,
                         "axes.spines.top": False, "axes.spines.right": False, "axes.linewidth": 0.6, "hatch.linewidth": 0.6,
                         "xtick.major.width": 0.6, "ytick.major.width": 0.6, "lines.linewidth": 1.0,
                         "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none"})


def _panel_title(fig_or_subfig, text: str) -> None:
    fig_or_subfig.suptitle(text, x=0.01, ha="left", fontweight="bold", fontsize=FONT_SIZE + 1)


def point_size(n_cells: int, panel_area_in2: float = 3.0, coverage: float = 0.35) -> float:
    """Marker area (pt²) so that `n_cells` points cover about `coverage` of a panel of that area."""
    return float(np.clip(coverage * panel_area_in2 * 72.0**2 / max(n_cells, 1), 0.1, 12.0))


REDUCED_TITLE = "Reduced configuration (what was reduced: claims.md, and this file's metadata)"


def add_note(fig: plt.Figure, note: str) -> None:
    """Say under the figure's title that its numbers come from a reduced configuration, when `note` (the
    full text, for the file's metadata: `scbeta.config.reduced_configuration`) is not empty.

    The title keeps to the left of the right-hand column where the trade-off figure's legends
    reach up to the top; the layout makes room for it."""
    if not note:
        return
    width = max(36, int((fig.get_figwidth() - 1.5) * 20))  # characters per line at the title's size
    lines = [textwrap.fill(text, width) for text in (fig.get_suptitle(), REDUCED_TITLE) if text]
    fig.suptitle("\n".join(lines), fontsize=FONT_SIZE + 1, x=0.01, ha="left")


def collapsed_runs(table: pd.DataFrame) -> frozenset:
    """The runs of a long metric table with fewer than `MIN_ACTIVE_UNITS` active latent dimensions."""
    if "metric" not in table:
        return frozenset()
    rows = table[table["metric"] == "active_units"]
    return frozenset(rows.loc[pd.to_numeric(rows["value"]) < MIN_ACTIVE_UNITS, "run"])


def collapsed_handle() -> Patch:
    """The legend entry of hatched bars."""
    return Patch(facecolor="0.85", edgecolor="black", hatch=COLLAPSED_HATCH, linewidth=0, label=COLLAPSED_LABEL)


def _category_colors(categories: Sequence) -> dict:
    palette = sns.color_palette("tab10" if len(categories) <= 10 else "tab20", len(categories))
    return dict(zip(categories, palette))


def _categories(values) -> list:
    values = pd.Series(values)
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna())
        return [c for c in values.cat.categories if c in present]
    return sorted(values.dropna().unique(), key=str)


def _bare_umap_axes(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")
    ax.set_aspect("equal", adjustable="datalim")


def _beta_legend_handles(betas) -> list:
    return [plt.Rectangle((0, 0), 1, 1, facecolor=beta_color(b), label=f"{b:g}") for b in sorted(set(betas))]


# ----------------------------------------------------------------------------------------------
# Panels
# ----------------------------------------------------------------------------------------------

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
    """Bars of mean `y` per `x` (groups) and β (side by side, `beta_color`), Student-t 95 % CI over rows.

    With `x` None the groups are the β values themselves (one bar each, `x_order` ignored). Error
    bars stop at the metric's `bounds`. Each bar's gid is `beta=<β:g>`; the seeds behind a bar are
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
        mean, half, n = mean_ci(values)
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
        if np.isfinite(half):
            low, high = max(mean - half, bounds[0]), min(mean + half, bounds[1])
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
    ax.legend(handles=handles, title="β", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0),
              handlelength=1.0, borderaxespad=0.2)


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


# ----------------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# Figure 2
# ----------------------------------------------------------------------------------------------

def _shared_limit(panels: Sequence[np.ndarray]) -> float:
    """One symmetric colour limit for several latent panels: the 99th percentile of |value| over all."""
    values = np.abs(np.concatenate([np.asarray(v, dtype=float).ravel() for v in panels])) if panels else np.ones(1)
    values = values[np.isfinite(values)]
    limit = float(np.percentile(values, 99)) if values.size else 1.0
    return limit if limit > 0 else 1.0


def _activity_text(latent: ad.AnnData) -> str:
    """'<k> of <d> dims active' for a latent, from its posterior means."""
    from scbeta.metrics import active_units

    z = latent.obsm["X_latent"]
    return f"{active_units(z)} of {z.shape[1]} dims active"


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


def _latent_colorbar(points, axes, limit: float) -> None:
    """The one colour bar of a block of latent panels on a shared scale."""
    if points is None:
        return
    bar = _colorbar(points, axes, "latent value (posterior mean)")
    bar.set_ticks([-limit, 0.0, limit], labels=[f"{-limit:.2g}", "0", f"{limit:.2g}"])


# ----------------------------------------------------------------------------------------------
# Figure 3
# ----------------------------------------------------------------------------------------------

def _beta_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The β-VAE runs (objective "beta", no capacity): the preprint's Figure 3 sweep."""
    return table[_is_vae(table) & (table["objective"] == "beta") & (table["c_max"] == 0)]


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
    hatched |= _grouped_bars(ax_c, ari, None, "value", betas, betas, bounds=(-1.0, 1.0), collapsed=collapsed)
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


# ----------------------------------------------------------------------------------------------
# Trade-off and metrics against β
# ----------------------------------------------------------------------------------------------

def _tradeoff_axes_spec(table: pd.DataFrame, stimulation: str, simulated_metric: str) -> list[tuple]:
    """(metric, factor, aggregation, y label, short name for the title) of each panel of one dataset in
    `tradeoff`."""
    corr = table[table["metric"] == "max_abs_corr"]
    if (corr["factor"] == stimulation).any():
        specs = [("max_abs_corr", stimulation, "mean", "Stimulation recovery: max |r|", "stimulation |r|")]
        if (table["metric"] == "identity_accuracy").any():
            specs.append(("identity_accuracy", None, "mean", "Cell-type alignment:\nmean balanced accuracy",
                          "cell-type accuracy"))
        return specs
    for metric in (simulated_metric, "mig", "lms_smi"):
        if (table["metric"] == metric).any():
            label = METRIC_LABELS.get(metric, metric)
            return [(metric, None, "mean", f"Disentanglement: {label}", label)]
    return [("max_abs_corr", None, "mean", "Disentanglement: mean max |r| over factors", "mean max |r|")]


def tradeoff(tables: Mapping[str, pd.DataFrame], *, stimulation: str = "stim_indicator",
             simulated_metric: str = "mig") -> plt.Figure:
    """Disentanglement against clustering quality, one point per run.

    For each dataset (key of `tables`, a long metric table): x is the best ARI; y is, for data with
    the `stimulation` factor, the stimulation max |r| and (second panel) the mean identity
    balanced accuracy over cell types, otherwise `simulated_metric` (MIG; LMS-SMI if MIG is
    missing). Colour: β (`beta_color`; baselines grey); marker: method.
    """
    _style()
    cleaned = {name: _with_labels(_clean(t)) for name, t in tables.items()}
    labels = _label_order(label for t in cleaned.values() for label in t["label"])
    styles = method_style(labels)
    panels = [(name, spec) for name, t in cleaned.items()
              for spec in _tradeoff_axes_spec(t, stimulation, simulated_metric)]
    n = max(len(panels), 1)
    fig, axes = plt.subplots(1, n, figsize=(2.05 * n + 1.3, 2.5), layout="constrained", squeeze=False)
    all_betas: set[float] = set()
    for k, (ax, (name, (metric, factor, how, ylabel, short))) in enumerate(zip(axes[0], panels)):
        t = cleaned[name]
        x = _run_values(t, "best_ari")
        y = _run_values(t, metric, factor, how)
        points = x.merge(y, on=["run", "method", "objective", "beta", "c_max", "gamma", "seed"],
                         suffixes=("_x", "_y"))
        points = _with_labels(points)
        for label in labels:
            group = points[points["label"] == label]
            if group.empty:
                continue
            marker = styles[label][0]
            if label in BASELINE_LABELS.values():
                ax.scatter(group["value_x"], group["value_y"], marker=marker, s=34, color=BASELINE_COLOR,
                           edgecolors="white", linewidths=0.3, zorder=2, gid=f"method={label}")
                continue
            for beta, sub in group.groupby("beta"):
                all_betas.add(float(beta))
                ax.scatter(sub["value_x"], sub["value_y"], marker=marker, s=20, color=beta_color(beta),
                           edgecolors="white", linewidths=0.3, zorder=3, gid=f"beta={beta:g}")
        ax.set_xlabel("Clustering quality: best ARI")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{chr(ord('A') + k)}  {name}:\n{short}", loc="left", fontweight="bold")
        ax.margins(0.08)
        ax.grid(True, linewidth=0.3, color="0.9")
        ax.set_axisbelow(True)
    method_handles = [Line2D([], [], linestyle="", marker=styles[label][0], markersize=4.5,
                             color="0.3" if label not in BASELINE_LABELS.values() else BASELINE_COLOR,
                             label=label) for label in labels]
    beta_handles = [Line2D([], [], linestyle="", marker="o", markersize=4.5, color=beta_color(b), label=f"{b:g}")
                    for b in sorted(all_betas)]
    legend = fig.legend(handles=method_handles, title="Method (marker)", loc="outside right upper", frameon=False)
    legend._legend_box.align = "left"
    fig.legend(handles=beta_handles, title="β (colour)", loc="outside right lower", frameon=False,
               ncols=1 if len(beta_handles) <= 8 else 2)
    fig.suptitle("Disentanglement against clustering quality (one point per trained model)", fontsize=FONT_SIZE + 1)
    return fig


def _weight_panels(aggregate: Mapping[str, pd.DataFrame]) -> list[tuple[str, str, pd.DataFrame]]:
    """(dataset, x-axis name, rows) of each column of `metrics_by_beta`: per dataset the β axis (every
    objective but FactorVAE, and the baselines) and, where the study has FactorVAE runs, a γ axis
    (FactorVAE, and the baselines for reference)."""
    has_gamma = any(_weighted_by_gamma(t).any() for t in aggregate.values())
    columns = []
    for name, t in aggregate.items():
        factorvae = _weighted_by_gamma(t)
        baselines = ~_is_vae(t)
        columns.append((name, "β", t[~factorvae].assign(x=lambda d: d["beta"])))
        if has_gamma:
            columns.append((name, "γ", t[factorvae | baselines].assign(x=lambda d: d["gamma"])))
    return columns


def _regularisation_weight(table: pd.DataFrame) -> pd.Series:
    """The x of metric-against-weight plots: each objective's main weight (β, or γ for FactorVAE, whose β is 1)."""
    key = table["objective"].map({name: info.weight for name, info in OBJECTIVES.items()}).fillna("beta")
    return pd.Series([table.at[row, column] for row, column in key.items()], index=table.index, dtype=float)


def _weighted_by_gamma(table: pd.DataFrame) -> pd.Series:
    """Rows of objectives whose swept weight is γ (FactorVAE), which go on a γ axis of their own."""
    return table["objective"].map(lambda name: name in OBJECTIVES and OBJECTIVES[name].weight == "gamma")


def _metric_against_weight(ax, rows: pd.DataFrame, metric: str, labels: Sequence[str], styles: Mapping) -> None:
    """One metric of one dataset: a line (mean) and band (95 % CI) per method, baselines as horizontal lines."""
    for label in labels:
        marker, color, line = styles[label]
        group = rows[rows["label"] == label]
        if group.empty:
            continue
        if label in BASELINE_LABELS.values():
            ax.axhline(group["value"].mean(), color=color, linestyle=line, linewidth=0.9, zorder=1,
                       gid=f"baseline={label}")
            continue
        summary = pd.DataFrame([(x, *mean_ci(g["value"])) for x, g in group.groupby("x") if x > 0],
                               columns=["x", "mean", "half", "n"])
        if summary.empty:
            continue
        ax.plot(summary["x"], summary["mean"], color=color, linestyle=line, marker=marker, markersize=3,
                zorder=3, gid=f"method={label}")
        half = summary["half"].fillna(0.0)
        low, high = summary["mean"] - half, summary["mean"] + half
        if metric in UNIT_INTERVAL_METRICS:  # the band stops at the metric's range
            low, high = low.clip(lower=0.0), high.clip(upper=1.0)
        ax.fill_between(summary["x"], low, high, color=color, alpha=0.15, linewidth=0, zorder=2)
    if metric in NEGATIVE_SCORES and (rows["value"] < 0).any():
        ax.axhline(0.0, color="0.3", linewidth=0.5, zorder=1)


def _weight_axis(ax, ticks: Sequence[float]) -> None:
    ax.set_xscale("log")
    if ticks:
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"{x:g}" for x in ticks])
        ax.set_xlim(ticks[0] / 1.25, ticks[-1] * 1.25)


def metrics_by_beta(tables: Mapping[str, pd.DataFrame], max_rows: int = 8) -> plt.Figure:
    """Every aggregate score (rows, `AGGREGATE_METRICS`) of every dataset against its regularisation weight.

    Per dataset a column against β (log axis; one line per objective, mean and Student-t 95 % CI
    band over seeds) and, where the study has FactorVAE runs, a narrower column against FactorVAE's
    γ. Baselines (PCA, ICA, NMF) are grey horizontal lines at their mean over seeds, in both. A
    score that can be negative says why in its axis label. With more than `max_rows` scores and at
    most two datasets, the scores continue in a second block of columns beside the first, so that
    the figure fits a printed page.
    """
    _style()
    cleaned = {name: _with_labels(_clean(t)) for name, t in tables.items()}
    aggregate = {name: t[(t["factor"] == "") & t["metric"].isin(AGGREGATE_METRICS)] for name, t in cleaned.items()}
    present = {m for t in aggregate.values() for m in t["metric"]}
    metrics = [m for m in AGGREGATE_METRICS if m in present] or [""]
    labels = _label_order(label for t in aggregate.values() for label in t["label"])
    styles = method_style(labels)
    columns = _weight_panels(aggregate)
    widths = [1.0 if axis == "β" else 0.45 for _, axis, _ in columns]
    n_blocks = 2 if len(metrics) > max_rows and len(aggregate) <= 2 else 1
    per_block = -(-len(metrics) // n_blocks)
    fig = plt.figure(figsize=(1.75 * sum(widths) * n_blocks + 0.9, 1.0 * per_block + 1.0), layout="constrained")
    blocks = np.atleast_1d(fig.subfigures(1, n_blocks, wspace=0.03))
    for block, chunk in zip(blocks, [metrics[k:k + per_block] for k in range(0, len(metrics), per_block)]):
        axes = block.subplots(per_block, len(columns), squeeze=False, sharey="row",
                              gridspec_kw={"width_ratios": widths})
        for ax in axes[len(chunk):].ravel():
            ax.set_axis_off()
        for j, (name, axis, t) in enumerate(columns):
            ticks = sorted(x for x in t.loc[_is_vae(t), "x"].unique() if np.isfinite(x) and x > 0)
            for i, metric in enumerate(chunk):
                ax = axes[i, j]
                rows = t[t["metric"] == metric]
                _metric_against_weight(ax, rows, metric, labels, styles)
                _weight_axis(ax, ticks)
                ax.grid(True, axis="y", linewidth=0.3, color="0.9")
                ax.set_axisbelow(True)
                # "DCI" on a line of its own: the long DCI names would run into their neighbours' labels
                label = (METRIC_LABELS.get(metric, metric).replace("DCI ", "DCI\n")
                         + NEGATIVE_SCORES.get(metric, ("", ""))[0])
                ax.set_ylabel(label if j == 0 else "")
                if i == 0:
                    ax.set_title(name if axis == "β" else f"{name}:\nFactorVAE")
                if i == len(chunk) - 1:
                    ax.set_xlabel(axis)
                else:
                    ax.tick_params(labelbottom=False)
                if rows.empty or not _is_vae(rows).any():
                    ax.text(0.5, 0.5, "not scored" if rows.empty else "no runs", transform=ax.transAxes,
                            ha="center", va="center", color="0.5")
    handles = [Line2D([], [], color=styles[label][1], linestyle=styles[label][2],
                      marker="" if label in BASELINE_LABELS.values() else styles[label][0], markersize=3,
                      label=label + (" (mean)" if label in BASELINE_LABELS.values() else "")) for label in labels]
    fig.suptitle("Latent scores against the regularisation weight (β; FactorVAE: γ, its own axis)",
                 fontsize=FONT_SIZE + 1)
    notes = [f"{mark} {why}" for metric, (mark, why) in NEGATIVE_SCORES.items() if metric in metrics]
    fig.legend(handles=handles, loc="outside lower center", frameon=False, ncols=min(len(handles), 4),
               title="\n".join([f"Lines and markers: {CI_LABEL} (band); grey: baselines, mean over seeds", *notes]))
    return fig
