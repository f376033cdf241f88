"""Figures across runs: disentanglement against clustering quality (`tradeoff`) and every score against
the regularisation weight (`metrics_by_beta`)."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator

from scbeta.plots.panels import _clean, _is_vae, _label_order, _run_values, _with_labels, method_style
from scbeta.plots.style import (AGGREGATE_METRICS, BASELINE_COLOR, BASELINE_LABELS, CI_LABEL, FONT_SIZE,
                                METRIC_LABELS, NEGATIVE_SCORES, _style, beta_color, collapsed_marker_handle,
                                collapsed_runs, dataset_label, gamma_color)
from scbeta.registry import OBJECTIVES
from scbeta.stats import mean_ci, metric_bounds

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


def _scatter_runs(ax, points: pd.DataFrame, marker: str, color, gid: str, collapsed: frozenset) -> bool:
    """One method's runs at one weight: filled markers, open ones for collapsed runs. Returns whether any is open."""
    is_collapsed = points["run"].isin(collapsed)
    if (~is_collapsed).any():
        ax.scatter(points.loc[~is_collapsed, "value_x"], points.loc[~is_collapsed, "value_y"], marker=marker, s=20,
                   color=color, edgecolors="white", linewidths=0.3, zorder=3, gid=gid)
    if is_collapsed.any():
        ax.scatter(points.loc[is_collapsed, "value_x"], points.loc[is_collapsed, "value_y"], marker=marker, s=18,
                   facecolors="white", edgecolors=[color], linewidths=0.9, zorder=4, gid=f"collapsed {gid}")
    return bool(is_collapsed.any())


def tradeoff(tables: Mapping[str, pd.DataFrame], *, stimulation: str = "stim_indicator",
             simulated_metric: str = "mig") -> plt.Figure:
    """Disentanglement against clustering quality, one point per run.

    For each dataset (key of `tables`, a long metric table; titled by `dataset_label`): x is the
    best ARI; y is, for data with the `stimulation` factor, the stimulation max |r| and (second
    panel) the mean identity balanced accuracy over cell types, otherwise `simulated_metric`
    (MIG; LMS-SMI if MIG is missing). Colour: β (`beta_color`), FactorVAE's γ (`gamma_color`, a
    scale of its own), baselines grey; marker: method, open for a collapsed run (fewer than 2
    active latent dimensions, from the table's `active_units` rows).
    """
    _style()
    cleaned = {name: _with_labels(_clean(t)) for name, t in tables.items()}
    labels = _label_order(label for t in cleaned.values() for label in t["label"])
    styles = method_style(labels)
    panels = [(name, spec) for name, t in cleaned.items()
              for spec in _tradeoff_axes_spec(t, stimulation, simulated_metric)]
    n = max(len(panels), 1)
    fig, axes = plt.subplots(1, n, figsize=(max(2.05 * n + 1.5, 5.0), 2.7), layout="constrained", squeeze=False)
    all_betas: set[float] = set()
    all_gammas: set[float] = set()
    any_open = False
    for k, (ax, (name, (metric, factor, how, ylabel, short))) in enumerate(zip(axes[0], panels)):
        t = cleaned[name]
        collapsed = collapsed_runs(t)
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
            by_gamma = _weighted_by_gamma(group)
            for gamma, sub in group[by_gamma].groupby("gamma"):
                all_gammas.add(float(gamma))
                any_open |= _scatter_runs(ax, sub, marker, gamma_color(gamma), f"gamma={gamma:g}", collapsed)
            for beta, sub in group[~by_gamma].groupby("beta"):
                all_betas.add(float(beta))
                any_open |= _scatter_runs(ax, sub, marker, beta_color(beta), f"beta={beta:g}", collapsed)
        ax.set_xlabel("Clustering quality: best ARI")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{chr(ord('A') + k)}  {dataset_label(name)}:\n{short}", loc="left", fontweight="bold")
        ax.margins(0.08)
        ax.grid(True, linewidth=0.3, color="0.9")
        ax.set_axisbelow(True)
    method_handles = [Line2D([], [], linestyle="", marker=styles[label][0], markersize=4.5,
                             color="0.3" if label not in BASELINE_LABELS.values() else BASELINE_COLOR,
                             label=label) for label in labels]
    if any_open:
        method_handles.append(collapsed_marker_handle())
    colour_handles = [Line2D([], [], linestyle="", marker="o", markersize=4.5, color=beta_color(b), label=f"β = {b:g}")
                      for b in sorted(all_betas)]
    colour_handles += [Line2D([], [], linestyle="", marker="o", markersize=4.5, color=gamma_color(g),
                              label=f"γ = {g:g} (FactorVAE)") for g in sorted(all_gammas)]
    # The two legends stack to the right of the panels: the figure must be tall enough for both, else the
    # upper one runs into the title.
    colour_columns = 1 if len(colour_handles) <= 7 else 2
    legend_lines = len(method_handles) + math.ceil(len(colour_handles) / colour_columns) + 4
    fig.set_figheight(max(fig.get_figheight(), 0.16 * legend_lines + 0.3))
    legend = fig.legend(handles=method_handles, title="Method (marker)", loc="outside right upper", frameon=False)
    legend._legend_box.align = "left"
    legend = fig.legend(handles=colour_handles, title="Weight (colour)", loc="outside right lower", frameon=False,
                        ncols=colour_columns)
    legend._legend_box.align = "left"
    # Left-aligned on two lines, so that it stays clear of the legends' column on the right.
    fig.suptitle("Disentanglement against clustering quality\n(one point per trained model)", x=0.02, ha="left",
                 fontsize=FONT_SIZE + 1)
    return fig


def weight_columns(table: pd.DataFrame, with_gamma: bool) -> list[tuple[str, pd.DataFrame]]:
    """(x-axis symbol, rows with their weight in column `x`) of the panels of one table against the regularisation
    weight: the β axis (every objective weighted by β, and the baselines) and, if `with_gamma`, the γ axis
    (FactorVAE, whose β is 1, and the baselines for reference). No γ run ever lands on a β axis."""
    by_gamma = _weighted_by_gamma(table)
    baselines = ~_is_vae(table)
    columns = [("β", table[~by_gamma].assign(x=lambda d: d["beta"]))]
    if with_gamma:
        columns.append(("γ", table[by_gamma | baselines].assign(x=lambda d: d["gamma"])))
    return columns


def _weight_panels(aggregate: Mapping[str, pd.DataFrame]) -> list[tuple[str, str, pd.DataFrame]]:
    """(dataset, x-axis symbol, rows) of each column of `metrics_by_beta`: per dataset the β axis and, where the
    study has FactorVAE runs, a γ axis (`weight_columns`)."""
    has_gamma = any(_weighted_by_gamma(t).any() for t in aggregate.values())
    return [(name, axis, rows) for name, t in aggregate.items() for axis, rows in weight_columns(t, has_gamma)]


def _weighted_by_gamma(table: pd.DataFrame) -> pd.Series:
    """Rows of objectives whose swept weight is γ (FactorVAE), which go on a γ axis of their own."""
    return table["objective"].map(lambda name: name in OBJECTIVES and OBJECTIVES[name].weight == "gamma").astype(bool)


def _metric_against_weight(ax, rows: pd.DataFrame, metric: str, labels: Sequence[str], styles: Mapping,
                           collapsed: frozenset = frozenset()) -> bool:
    """One metric of one dataset against the weight in `rows["x"]`: a line (mean) and band (95 % CI within the
    metric's range, `scbeta.stats.mean_ci`) per method, baselines as horizontal lines.

    A mean over seeds that includes a run in `collapsed` gets an open marker; returns whether any does."""
    any_open = False
    for label in labels:
        marker, color, line = styles[label]
        group = rows[rows["label"] == label]
        if group.empty:
            continue
        if label in BASELINE_LABELS.values():
            ax.axhline(group["value"].mean(), color=color, linestyle=line, linewidth=0.9, zorder=1,
                       gid=f"baseline={label}")
            continue
        summary = pd.DataFrame([(x, *mean_ci(g["value"], bounds=metric_bounds(metric)), g["run"].isin(collapsed).any())
                                for x, g in group.groupby("x") if x > 0],
                               columns=["x", "mean", "low", "high", "n", "collapsed"])
        if summary.empty:
            continue
        is_open = summary["collapsed"].to_numpy(dtype=bool)
        ax.plot(summary["x"], summary["mean"], color=color, linestyle=line, marker=marker, markersize=3,
                markevery=list(np.flatnonzero(~is_open)), zorder=3, gid=f"method={label}")
        if is_open.any():
            ax.plot(summary.loc[is_open, "x"], summary.loc[is_open, "mean"], linestyle="", marker=marker,
                    markersize=3.5, markerfacecolor="white", markeredgecolor=color, markeredgewidth=0.8, zorder=4,
                    gid=f"collapsed={label}")
            any_open = True
        low, high = summary["low"].fillna(summary["mean"]), summary["high"].fillna(summary["mean"])
        ax.fill_between(summary["x"], low, high, color=color, alpha=0.15, linewidth=0, zorder=2)
    if metric in NEGATIVE_SCORES and (rows["value"] < 0).any():
        ax.axhline(0.0, color="0.3", linewidth=0.5, zorder=1)
    return any_open


def _weight_axis(ax, ticks: Sequence[float]) -> None:
    ax.set_xscale("log")
    if ticks:
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"{x:g}" for x in ticks])
        ax.set_xlim(ticks[0] / 1.25, ticks[-1] * 1.25)


def metrics_by_beta(tables: Mapping[str, pd.DataFrame], max_rows: int = 8) -> plt.Figure:
    """Every aggregate score (rows, `AGGREGATE_METRICS`) of every dataset against its regularisation weight.

    Per dataset (titled by `dataset_label`) a column against β (log axis; one line per objective,
    mean and Student-t 95 % CI band over seeds, open marker where a seed has collapsed) and, where
    the study has FactorVAE runs, a narrower column against FactorVAE's γ. Baselines (PCA, ICA,
    NMF) are grey horizontal lines at their mean over seeds, in both. A score that can be negative
    says why in its axis label. With more than `max_rows` scores and at
    most two datasets, the scores continue in a second block of columns beside the first, so that
    the figure fits a printed page.
    """
    _style()
    cleaned = {name: _with_labels(_clean(t)) for name, t in tables.items()}
    collapsed = frozenset().union(*(collapsed_runs(t) for t in cleaned.values()))
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
    any_open = False
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
                any_open |= _metric_against_weight(ax, rows, metric, labels, styles, collapsed)
                _weight_axis(ax, ticks)
                ax.grid(True, axis="y", linewidth=0.3, color="0.9")
                ax.set_axisbelow(True)
                # "DCI" on a line of its own: the long DCI names would run into their neighbours' labels
                label = (METRIC_LABELS.get(metric, metric).replace("DCI ", "DCI\n")
                         + NEGATIVE_SCORES.get(metric, ("", ""))[0])
                ax.set_ylabel(label if j == 0 else "")
                if i == 0:
                    ax.set_title(dataset_label(name) if axis == "β" else f"{dataset_label(name)}:\nFactorVAE")
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
    if any_open:
        handles.append(collapsed_marker_handle("a seed with"))
    fig.suptitle("Latent scores against the regularisation weight (β; FactorVAE: γ, its own axis)",
                 fontsize=FONT_SIZE + 1)
    notes = [f"{mark} {why}" for metric, (mark, why) in NEGATIVE_SCORES.items() if metric in metrics]
    fig.legend(handles=handles, loc="outside lower center", frameon=False, ncols=min(len(handles), 4),
               title="\n".join([f"Lines and markers: {CI_LABEL} (band); grey: baselines, mean over seeds", *notes]))
    return fig
