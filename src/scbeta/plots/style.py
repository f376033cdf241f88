"""Shared style of the figures: fonts, the colour of each β, method markers, metric labels, hatching
of collapsed models and the reduced-configuration note."""
from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from scbeta.config import REDUCED_SUFFIX
from scbeta.metrics.activity import MIN_ACTIVE_UNITS
from scbeta.registry import BASELINES, METRICS, OBJECTIVES, metrics_of

BETA_CMAP = "plasma"
# The β values of the preprint's and the default sweeps, evenly spaced along the colour map so that
# neighbours (1, 1.5, 2, 3 …) differ visibly; other β fall between their neighbours on a log scale,
# β below 1 or above 50 take the end colours.
BETA_GRID = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 10.0, 30.0, 50.0)
BETA_CMAP_END = 0.88  # plasma beyond this is too pale on white
# FactorVAE's γ has colours of its own, in a map that shares no hue with β's, so that no γ reads as a β.
GAMMA_CMAP = "Greens"
GAMMA_GRID = (1.0, 3.0, 6.0, 10.0, 30.0, 100.0)
GAMMA_CMAP_RANGE = (0.35, 0.95)
FONT_SIZE = 7
LATENT_CMAP = "RdBu_r"  # latent values: diverging, centred at 0
BASELINE_COLOR = "0.45"  # baselines have no β: grey wherever β sets the colour
CI_LABEL = "mean ± 95% CI over seeds"
COLLAPSED_HATCH = "////"
COLLAPSED_LABEL = f"hatched: a seed with < {MIN_ACTIVE_UNITS}\nactive latent dims (collapsed)"
COLLAPSED_MARKER_LABEL = f"open marker: < {MIN_ACTIVE_UNITS} active\nlatent dims (collapsed)"

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
METRIC_LABELS = {name: info.label for name, info in METRICS.items()}


def beta_color(beta: float) -> tuple[float, float, float, float]:
    """The colour of a β value, the same in every figure (`BETA_GRID` evenly spaced along `BETA_CMAP`)."""
    grid = np.log(BETA_GRID)
    position = np.interp(np.log(max(float(beta), 1e-12)), grid, np.linspace(0.0, 1.0, len(grid)))
    return plt.get_cmap(BETA_CMAP)(BETA_CMAP_END * position)


def gamma_color(gamma: float) -> tuple[float, float, float, float]:
    """The colour of a FactorVAE γ value (`GAMMA_GRID` evenly spaced along `GAMMA_CMAP`), never a β colour."""
    grid = np.log(GAMMA_GRID)
    position = np.interp(np.log(max(float(gamma), 1e-12)), grid, np.linspace(0.0, 1.0, len(grid)))
    low, high = GAMMA_CMAP_RANGE
    return plt.get_cmap(GAMMA_CMAP)(low + (high - low) * position)


# Datasets of the shipped config by their key; any other dataset (a user's h5ad) is named by its key.
DATASET_LABELS = {"simulated": "Simulated", "kang2018": "Kang et al. (2018)"}


def dataset_label(key: str) -> str:
    """The name of a dataset in figure titles: "Simulated", "Kang et al. (2018)", else its config key."""
    return DATASET_LABELS.get(str(key), str(key))


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


REDUCED_TITLE = "defaults: the note heading claims.md and this file's metadata"


def reduced_title(note: str) -> str:
    """The figure's line for a reduced configuration note (`scbeta.config.reduced_configuration`): what was
    reduced, in a few words, without the defaults, which claims.md and the file's metadata give."""
    brief = re.sub(r" \(default [^)]*\)", "", note).strip().rstrip(".")
    brief = brief.removesuffix(f"; {REDUCED_SUFFIX}")
    return f"{brief} ({REDUCED_TITLE})"


def add_note(fig: plt.Figure, note: str) -> None:
    """Say under the figure's title that its numbers come from a reduced configuration, when `note` (the
    full text, for the file's metadata: `scbeta.config.reduced_configuration`) is not empty.

    The title keeps to the left of the right-hand column where the trade-off figure's legends
    reach up to the top; the layout makes room for it."""
    if not note:
        return
    width = max(36, int((fig.get_figwidth() - 1.5) * 20))  # characters per line at the title's size
    lines = [textwrap.fill(text, width) for text in (fig.get_suptitle(), reduced_title(note)) if text]
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


def collapsed_marker_handle(what: str = "") -> Line2D:
    """The legend entry of open markers (collapsed runs; `what` says which, e.g. "a seed with")."""
    label = COLLAPSED_MARKER_LABEL.replace("< ", f"{what} < ") if what else COLLAPSED_MARKER_LABEL
    return Line2D([], [], linestyle="", marker="o", markersize=4.5, markerfacecolor="white",
                  markeredgecolor="0.2", markeredgewidth=0.8, label=label)


def active_units_of(table: pd.DataFrame) -> dict[str, int]:
    """Run → its number of active latent dimensions, from the `active_units` rows of a long metric table."""
    if "metric" not in table:
        return {}
    rows = table[table["metric"] == "active_units"]
    return {str(run): int(value) for run, value in zip(rows["run"], pd.to_numeric(rows["value"]))}


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

