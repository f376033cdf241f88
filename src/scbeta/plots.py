"""Figures: the preprint's panels from cached embeddings, latents and score tables.

Every function returns a matplotlib Figure; saving (PNG and vector PDF) is the caller's job
(`scbeta._io.save_figure`). A β value has the same colour in every figure (`beta_color`), a
method the same marker (`method_style`), and confidence intervals are the same everywhere:
mean ± Student-t 95 % interval over seeds (`mean_ci`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import anndata as ad
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, NullLocator  # noqa: E402
from scipy import stats  # noqa: E402

from scbeta.registry import BASELINES, METRICS, OBJECTIVES, metrics_of  # noqa: E402

BETA_CMAP = "viridis"
BETA_RANGE = (1.0, 50.0)  # the colour scale spans the preprint's β values; larger β saturate
FONT_SIZE = 7
LATENT_CMAP = "RdBu_r"  # latent values: diverging, centred at 0
BASELINE_COLOR = "0.45"  # baselines have no β: grey wherever β sets the colour
CI_LABEL = "mean ± 95% CI over seeds"

OBJECTIVE_LABELS = {name: info.label for name, info in OBJECTIVES.items()}
BASELINE_LABELS = BASELINES
# (marker, line colour in metric-vs-β plots, line style) per method
_STYLES = {"β-VAE": ("o", "black", "-"), "Capacity": ("s", "#D55E00", "-"), "β-TCVAE": ("^", "#CC79A7", "-"),
           "FactorVAE": ("D", "#0072B2", "--"), "PCA": ("P", "#E69F00", ":"), "ICA": ("X", "#56B4E9", ":"),
           "NMF": ("*", "#009E73", ":")}
_EXTRA_MARKERS = ("p", "h", "8", "v", "<", ">")

AGGREGATE_METRICS = (*metrics_of("disentanglement"), "best_ari", "best_nmi")
UNIT_INTERVAL_METRICS = frozenset(name for name in AGGREGATE_METRICS if METRICS[name].range == (0.0, 1.0))
METRIC_LABELS = {name: info.label for name, info in METRICS.items()}


# ----------------------------------------------------------------------------------------------
# Shared style
# ----------------------------------------------------------------------------------------------

def beta_color(beta: float) -> tuple[float, float, float, float]:
    """The colour of a β value, the same in every figure (log scale over `BETA_RANGE`)."""
    norm = LogNorm(*BETA_RANGE, clip=True)
    return plt.get_cmap(BETA_CMAP)(0.9 * norm(max(beta, BETA_RANGE[0])))


def _style() -> None:
    plt.rcParams.update({"font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE + 1, "axes.labelsize": FONT_SIZE,
                         "legend.fontsize": FONT_SIZE - 1, "legend.title_fontsize": FONT_SIZE - 1,
                         "xtick.labelsize": FONT_SIZE - 1, "ytick.labelsize": FONT_SIZE - 1,
                         "axes.spines.top": False, "axes.spines.right": False, "axes.linewidth": 0.6,
                         "xtick.major.width": 0.6, "ytick.major.width": 0.6, "lines.linewidth": 1.0,
                         "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none"})


def _panel_title(fig_or_subfig, text: str) -> None:
    fig_or_subfig.suptitle(text, x=0.01, ha="left", fontweight="bold", fontsize=FONT_SIZE + 1)


def point_size(n_cells: int, panel_area_in2: float = 3.0, coverage: float = 0.35) -> float:
    """Marker area (pt²) so that `n_cells` points cover about `coverage` of a panel of that area."""
    return float(np.clip(coverage * panel_area_in2 * 72.0**2 / max(n_cells, 1), 0.1, 12.0))


def mean_ci(values) -> tuple[float, float, int]:
    """Mean, half-width of its Student-t 95 % confidence interval (NaN below 2 values) and n (finite values)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = len(values)
    if n == 0:
        return np.nan, np.nan, 0
    if n < 2:
        return float(values.mean()), np.nan, 1
    half = stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return float(values.mean()), float(half), n


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
               vmin: float | None = None, vmax: float | None = None, labels: Mapping | None = None):
    """Scatter the UMAP coloured by `values`: a legend for categories, a colour bar for numbers.

    `diverging` centres the colour scale at 0 (symmetric limits at the 99th percentile of |value|,
    colour bar ticks at −limit, 0, +limit). `size` is the marker area in pt² (default: `point_size`
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
            finite = np.abs(numbers[np.isfinite(numbers)])
            limit = float(np.percentile(finite, 99)) if finite.size else 1.0
            limit = limit if limit > 0 else 1.0
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
                  width: float = 0.8, seeds: bool = True, bounds: tuple[float, float] = (0.0, 1.0)) -> None:
    """Bars of mean `y` per `x` (groups) and β (side by side, `beta_color`), Student-t 95 % CI over rows.

    With `x` None the groups are the β values themselves (one bar each, `x_order` ignored). Error
    bars stop at the metric's `bounds`. Each bar's gid is `beta=<β:g>`; the seeds behind a bar are
    drawn as small dots when `seeds`.
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
    for i, offset, bar_width, beta, selected in cells:
        values = table.loc[selected, y].to_numpy(dtype=float)
        mean, half, n = mean_ci(values)
        if n == 0:
            continue
        position = i + offset
        bars = ax.bar(position, mean, width=bar_width, color=beta_color(beta), linewidth=0)
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


def bars_over_beta(ax, table: pd.DataFrame, x: str, y: str, ylabel: str, title: str, *,
                   legend: bool = True, legend_betas: Sequence[float] | None = None) -> None:
    """Bars of `y` per `x` and β (hue), mean with Student-t 95 % CI over seeds (dots: single seeds).

    The legend lists `legend_betas` (default: the β values of `table`)."""
    order = list(dict.fromkeys(table[x]))
    _grouped_bars(ax, table, x, y, order, table["beta"].unique())
    ax.set_xticklabels(order)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("")
    ax.set_title(title)
    if legend:
        betas = table["beta"] if legend_betas is None else legend_betas
        ax.legend(handles=_beta_legend_handles(betas), title="β", frameon=False, loc="upper left",
                  bbox_to_anchor=(1.0, 1.0), handlelength=1.0, borderaxespad=0.2)


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

def figure2(embedding: ad.AnnData, max_abs_corr: pd.DataFrame, latents: list[ad.AnnData]) -> plt.Figure:
    """Figure 2: A) UMAP by identity; B) UMAP by each factor; C) max |corr| per factor, β and C_max
    (95 % CI over seeds); D) UMAP coloured by the latent dimension best matched to each factor, one
    row per latent in `latents` (their `uns["run"]` names β and seed)."""
    _style()
    table = _clean(max_abs_corr)
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
    for k, (ax, c_max) in enumerate(zip(axes, c_values)):
        subset = table[table["c_max"] == c_max].assign(factor=lambda t: t["factor"].map(_factor_label))
        objective = "β-VAE" if c_max == 0 else "capacity"
        bars_over_beta(ax, subset, "factor", "value", "Latent dim. |r| (95% CI)" if k == 0 else "",
                       f"C_max = {c_max:g} nats ({objective})", legend=k == len(c_values) - 1,
                       legend_betas=table["beta"])
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
        for i, (row, latent) in enumerate(zip(axes, latents)):
            run = latent.uns["run"]
            best = table[table["run"] == run["run"]].set_index("factor")
            for j, (ax, factor) in enumerate(zip(row, factors)):
                dim = int(best.loc[factor, "dim"])
                umap_panel(ax, coords, latent.obsm["X_latent"][:, dim],
                           f"β = {float(run['beta']):g}: {_factor_label(factor)}\n→ dim {dim} "
                           f"(|r| {float(best.loc[factor, 'value']):.2f})",
                           diverging=True, label="latent value" if j == len(factors) - 1 else "", size=size)
                ax.set_xlabel("UMAP 1" if i == len(latents) - 1 else "")
                ax.set_ylabel("UMAP 2" if j == 0 else "")
        _panel_title(bottom, "D  UMAP coloured by the best-matched latent dimension")
    return fig


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
    else:
        _grouped_bars(ax_b, corr_rows, None, "value", betas, betas)
    ax_b.set_ylim(0, 1)
    ax_b.set_ylabel("Max |Pearson r|, stimulation vs. one dim.")
    ax_b.set_title(f"B  Exp. factor recovery{second_line}", loc="left", fontweight="bold")

    ari = runs[runs["metric"] == "best_ari"]
    _grouped_bars(ax_c, ari, None, "value", betas, betas, bounds=(-1.0, 1.0))
    ax_c.set_ylim(0, 1)
    ax_c.set_ylabel("Best adjusted Rand index vs. cell type")
    ax_c.set_title(f"C  Clustering recovery{second_line}", loc="left", fontweight="bold")
    for ax in (ax_b, ax_c):
        _beta_axis(ax, betas)

    # D
    ax_d = middle.subplots()
    accuracy = runs[runs["metric"] == "identity_accuracy"]
    order = [c for c in cell_types if c in set(accuracy["factor"])]
    _grouped_bars(ax_d, accuracy, "factor", "value", order, betas, width=0.82)
    ax_d.set_xticklabels(order)
    ax_d.set_ylim(0.5, 1.0)
    ax_d.set_ylabel("Balanced accuracy, best single dim.\n(chance = 0.5)")
    ax_d.legend(handles=_beta_legend_handles(betas), title="β", frameon=False, loc="upper left",
                bbox_to_anchor=(1.0, 1.0), handlelength=1.0, borderaxespad=0.2)
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
        for row, (name, mask, metric, factor, color) in zip(axes, panels):
            highlight_panel(row[0], coords, mask, name, color=color)
            score_name = "|r|" if metric == "max_abs_corr" else "bal. acc."
            for ax, latent in zip(row[1:], latents):
                run = latent.uns["run"]
                dim, value = _best_dim(table, run["run"], metric, factor)
                if dim < 0:
                    ax.set_axis_off()
                    ax.set_title(f"β = {float(run['beta']):g}: no score")
                    continue
                umap_panel(ax, coords, latent.obsm["X_latent"][:, dim],
                           f"β = {float(run['beta']):g}: dim {dim} ({score_name} {value:.2f})",
                           diverging=True, label="latent value")
        for i, grid_row in enumerate(grid):
            for j, ax in enumerate(grid_row):
                if j > 0:
                    ax.set_ylabel("")
                if i < len(grid) - 1:
                    ax.set_xlabel("")
        where = "left" if by_row else "top"
        note = f" (not in these data: {', '.join(absent)})" if absent else ""
        _panel_title(bottom, f"E  Target cells ({where}) and the latent dimension that best recovers them{note}")
    return fig


# ----------------------------------------------------------------------------------------------
# Trade-off and metrics against β
# ----------------------------------------------------------------------------------------------

def _tradeoff_axes_spec(table: pd.DataFrame, stimulation: str, simulated_metric: str) -> list[tuple]:
    """(metric, factor, aggregation, y label) of each panel of one dataset in `tradeoff`."""
    corr = table[table["metric"] == "max_abs_corr"]
    if (corr["factor"] == stimulation).any():
        specs = [("max_abs_corr", stimulation, "mean", "Stimulation recovery: max |r|")]
        if (table["metric"] == "identity_accuracy").any():
            specs.append(("identity_accuracy", None, "mean", "Cell-type alignment:\nmean balanced accuracy"))
        return specs
    for metric in (simulated_metric, "mig", "lms_smi"):
        if (table["metric"] == metric).any():
            return [(metric, None, "mean", f"Disentanglement: {METRIC_LABELS.get(metric, metric)}")]
    return [("max_abs_corr", None, "mean", "Disentanglement: mean max |r| over factors")]


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
    for ax, (name, (metric, factor, how, ylabel)) in zip(axes[0], panels):
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
        ax.set_title(name)
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


def _regularisation_weight(table: pd.DataFrame) -> pd.Series:
    """The x of metric-against-β plots: each objective's main weight (β, or γ for FactorVAE, whose β is 1)."""
    key = table["objective"].map({name: info.weight for name, info in OBJECTIVES.items()}).fillna("beta")
    return pd.Series([table.at[row, column] for row, column in key.items()], index=table.index, dtype=float)


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


def metrics_by_beta(tables: Mapping[str, pd.DataFrame], max_rows: int = 8) -> plt.Figure:
    """Every aggregate metric (rows) of every dataset (columns) against β, log x axis.

    One line per objective (mean, band: Student-t 95 % CI over seeds; FactorVAE against γ);
    baselines (PCA, ICA, NMF) as horizontal lines at their mean over seeds. With more than
    `max_rows` metrics and at most two datasets, the metrics continue in a second block of
    columns beside the first, so that the figure fits a printed page.
    """
    _style()
    cleaned = {name: _with_labels(_clean(t)) for name, t in tables.items()}
    aggregate = {name: t[t["factor"] == ""].assign(x=lambda d: _regularisation_weight(d))
                 for name, t in cleaned.items()}
    present = {m for t in aggregate.values() for m in t["metric"]}
    metrics = [m for m in AGGREGATE_METRICS if m in present] + sorted(present - set(AGGREGATE_METRICS))
    metrics = metrics or [""]
    labels = _label_order(label for t in aggregate.values() for label in t["label"])
    styles = method_style(labels)
    has_factorvae = any((t["objective"] == "factorvae").any() for t in aggregate.values())
    n_cols = max(len(aggregate), 1)
    n_blocks = 2 if len(metrics) > max_rows and n_cols <= 2 else 1
    per_block = -(-len(metrics) // n_blocks)
    fig = plt.figure(figsize=(1.75 * n_cols * n_blocks + 0.5, 1.0 * per_block + 1.0), layout="constrained")
    blocks = np.atleast_1d(fig.subfigures(1, n_blocks, wspace=0.03))
    for block, chunk in zip(blocks, [metrics[k:k + per_block] for k in range(0, len(metrics), per_block)]):
        axes = block.subplots(per_block, n_cols, squeeze=False, sharey="row")
        for ax in axes[len(chunk):].ravel():
            ax.set_axis_off()
        for j, (name, t) in enumerate(aggregate.items()):
            ticks = sorted(x for x in t.loc[_is_vae(t), "x"].unique() if np.isfinite(x) and x > 0)
            for i, metric in enumerate(chunk):
                ax = axes[i, j]
                rows = t[t["metric"] == metric]
                _metric_against_weight(ax, rows, metric, labels, styles)
                ax.set_xscale("log")
                if ticks:
                    ax.xaxis.set_major_locator(FixedLocator(ticks))
                    ax.xaxis.set_minor_locator(NullLocator())
                    ax.set_xticklabels([f"{x:g}" for x in ticks])
                    ax.set_xlim(ticks[0] / 1.25, ticks[-1] * 1.25)
                ax.grid(True, axis="y", linewidth=0.3, color="0.9")
                ax.set_axisbelow(True)
                ax.set_ylabel(METRIC_LABELS.get(metric, metric) if j == 0 else "")
                if i == 0:
                    ax.set_title(name)
                if i == len(chunk) - 1:
                    ax.set_xlabel("β (FactorVAE: γ)" if has_factorvae else "β")
                else:
                    ax.tick_params(labelbottom=False)
                if rows.empty:
                    ax.text(0.5, 0.5, "not scored", transform=ax.transAxes, ha="center", va="center",
                            color="0.5")
    handles = [Line2D([], [], color=styles[label][1], linestyle=styles[label][2],
                      marker="" if label in BASELINE_LABELS.values() else styles[label][0], markersize=3,
                      label=label + (" (mean)" if label in BASELINE_LABELS.values() else "")) for label in labels]
    fig.suptitle("Latent scores against the regularisation weight", fontsize=FONT_SIZE + 1)
    fig.legend(handles=handles, loc="outside lower center", frameon=False, ncols=min(len(handles), 4),
               title=f"Lines and markers: {CI_LABEL} (band); dotted: baselines, mean over seeds")
    return fig
