"""Figures: the preprint's panels from cached embeddings, latents and score tables.

Every function returns a matplotlib Figure; saving (PNG and vector PDF) is the caller's job
(`scbeta._io.save_figure`). A β value has the same colour in every figure (`beta_color`), a
method the same marker (`method_style`), and confidence intervals are the same everywhere:
mean ± Student-t 95 % interval over seeds (`scbeta.stats.mean_ci`), within a bounded metric's range.
A collapsed model (fewer than 2 active latent dimensions) is marked wherever it is drawn: a bar
whose models include one is hatched, a point or a mean over seeds that includes one has an open
marker, and its gene-program heatmap is left empty and says so. FactorVAE's γ has an axis of its
own, and colours of its own (`gamma_color`), never a β's; datasets are named by `dataset_label`.

Modules: `style` (colours, fonts, labels), `panels` (panels and metric-table helpers the figures
share), `figure2`, `figure3`, `summary` (trade-off and scores against β) and `programs` (gene programs).
"""
from __future__ import annotations

import matplotlib

# Before any submodule imports pyplot: figures are written to files, never shown.
matplotlib.use("Agg")

from scbeta.plots.figure2 import figure2  # noqa: E402
from scbeta.plots.figure3 import figure3  # noqa: E402
from scbeta.plots.panels import highlight_panel, method_label, method_style, umap_panel  # noqa: E402
from scbeta.plots.programs import programs_figure  # noqa: E402
from scbeta.plots.style import (AGGREGATE_METRICS, BASELINE_COLOR, BETA_GRID, COLLAPSED_LABEL,  # noqa: E402
                                COLLAPSED_MARKER_LABEL, METRIC_LABELS, REDUCED_TITLE, add_note, beta_color,
                                collapsed_runs, dataset_label, gamma_color, point_size)
from scbeta.plots.summary import metrics_by_beta, tradeoff  # noqa: E402

__all__ = ["AGGREGATE_METRICS", "BASELINE_COLOR", "BETA_GRID", "COLLAPSED_LABEL", "COLLAPSED_MARKER_LABEL",
           "METRIC_LABELS", "REDUCED_TITLE", "add_note", "beta_color", "collapsed_runs", "dataset_label", "figure2",
           "figure3", "gamma_color", "highlight_panel", "method_label", "method_style", "metrics_by_beta",
           "point_size", "programs_figure", "tradeoff", "umap_panel"]
