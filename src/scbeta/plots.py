"""Figures: the preprint's panels from cached embeddings, latents and score tables."""
from __future__ import annotations

import anndata as ad
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

BETA_CMAP = "viridis"
BETA_RANGE = (1.0, 50.0)  # the colour scale spans the preprint's β values; larger β saturate
FONT_SIZE = 7


def beta_color(beta: float) -> tuple[float, float, float, float]:
    """The colour of a β value, the same in every figure (log scale over `BETA_RANGE`)."""
    norm = LogNorm(*BETA_RANGE, clip=True)
    return plt.get_cmap(BETA_CMAP)(0.9 * norm(max(beta, BETA_RANGE[0])))


def beta_palette(betas) -> dict[float, tuple]:
    """A seaborn palette keyed by β."""
    return {beta: beta_color(beta) for beta in sorted(set(betas))}


def _style() -> None:
    plt.rcParams.update({"font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE + 1, "axes.labelsize": FONT_SIZE,
                         "legend.fontsize": FONT_SIZE - 1, "xtick.labelsize": FONT_SIZE - 1,
                         "ytick.labelsize": FONT_SIZE - 1, "axes.spines.top": False, "axes.spines.right": False})


def umap_panel(ax, coords: np.ndarray, values, title: str, *, categorical: bool = False,
               cmap: str = "magma", label: str = "") -> None:
    """Scatter the UMAP coloured by `values`: a legend for categories, a colour bar for numbers."""
    order = np.random.default_rng(0).permutation(len(coords))  # no category drawn on top of all others
    coords = coords[order]
    if categorical:
        values = pd.Categorical(np.asarray(values)[order])
        colors = sns.color_palette("tab10", len(values.categories))
        for code, name in enumerate(values.categories):
            mask = values.codes == code
            ax.scatter(*coords[mask].T, s=1, color=colors[code], label=str(name), rasterized=True, linewidths=0)
        ax.legend(markerscale=4, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    else:
        points = ax.scatter(*coords.T, c=np.asarray(values, dtype=float)[order], s=1, cmap=cmap,
                            rasterized=True, linewidths=0)
        plt.colorbar(points, ax=ax, shrink=0.7, pad=0.02, label=label)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")


def bars_over_beta(ax, table: pd.DataFrame, x: str, y: str, ylabel: str, title: str) -> None:
    """Bars of `y` per `x` and β (hue), mean with 95 % CI over seeds."""
    palette = beta_palette(table["beta"])
    sns.barplot(data=table, x=x, y=y, hue="beta", palette=palette, errorbar=("ci", 95), ax=ax,
                err_kws={"linewidth": 0.8}, capsize=0.1)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("")
    ax.set_title(title)
    ax.legend(title="β", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def _factor_label(name: str) -> str:
    kind, _, number = name.partition("_")
    return f"{kind.capitalize()} {number}" if number else name


def figure2(embedding: ad.AnnData, max_abs_corr: pd.DataFrame, latents: list[ad.AnnData]) -> plt.Figure:
    """Figure 2: A) UMAP by identity; B) UMAP by each factor; C) max |corr| per factor, β and C_max
    (95 % CI over seeds); D) UMAP coloured by the latent dimension best matched to each factor, one
    row per latent in `latents` (their `uns["run"]` names β and seed)."""
    _style()
    factors = list(dict.fromkeys(max_abs_corr["factor"]))
    coords = embedding.obsm["X_umap"]
    c_values = sorted(max_abs_corr["c_max"].unique())
    n_cols = len(factors) + 1
    fig = plt.figure(figsize=(2.0 * n_cols, 2.0 * (2 + len(latents)) + 0.4), layout="constrained")
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=[1, 1.1, len(latents) or 1])

    axes = top.subplots(1, n_cols)
    umap_panel(axes[0], coords, embedding.obs["identity"], "Identity", categorical=True)
    for ax, factor in zip(axes[1:], factors):
        umap_panel(ax, coords, embedding.obs[factor], _factor_label(factor), label="usage")
    top.suptitle("A, B  Simulated cells and their generative factors", x=0.01, ha="left", fontweight="bold")

    axes = np.atleast_1d(middle.subplots(1, len(c_values), sharey=True))
    for ax, c_max in zip(axes, c_values):
        subset = max_abs_corr[max_abs_corr["c_max"] == c_max].assign(
            factor=lambda t: t["factor"].map(_factor_label))
        bars_over_beta(ax, subset, "factor", "abs_corr", "Latent dim. |corr| (95% CI)", f"C_max = {c_max:g} nats")
        ax.set_ylim(0, 1)
        ax.tick_params(axis="x", rotation=30)
    n_seeds = max_abs_corr.groupby(["beta", "c_max"])["seed"].nunique().min()
    middle.suptitle(f"C  Largest |Pearson r| between each factor and one latent dimension "
                    f"({n_seeds} seeds per bar)", x=0.01, ha="left", fontweight="bold")

    if latents:
        axes = np.atleast_2d(bottom.subplots(len(latents), len(factors)))
        for row, latent in zip(axes, latents):
            run = latent.uns["run"]
            best = max_abs_corr[max_abs_corr["run"] == run["run"]].set_index("factor")
            for ax, factor in zip(row, factors):
                dim = int(best.loc[factor, "dim"])
                umap_panel(ax, coords, latent.obsm["X_latent"][:, dim],
                           f"β = {run['beta']:g}: {_factor_label(factor)} → dim {dim}", cmap="coolwarm",
                           label="latent value")
        bottom.suptitle("D  UMAP coloured by the best-matched latent dimension", x=0.01, ha="left",
                        fontweight="bold")
    return fig
