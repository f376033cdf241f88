"""The steps of `workflow/rules/figures.smk`: Figure 2, each real dataset's Figure 3, and the summary figures."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anndata as ad

from scbeta._io import read_tsv, save_figure
from scbeta.pipeline import logged

if TYPE_CHECKING:
    import matplotlib.pyplot as plt


def save_with_note(fig: plt.Figure, paths: Sequence[str | Path], reduced: str = "") -> None:
    """Save `fig` to each of `paths` (PNG and PDF), with `reduced` (a reduced configuration's note, see
    `scbeta.config.reduced_configuration`; "" for none) under its title and in the files' metadata."""
    from scbeta import plots

    plots.add_note(fig, reduced)
    save_figure(fig, list(paths), note=reduced)


@logged
def figure2(*, embedding: str, table: str, latents: list[str], png: str, pdf: str, reduced: str = "") -> None:
    """Figure 2 of the preprint from the cached UMAP, the metric table and the panel-D latents; `reduced`
    goes under the figure and into its metadata."""
    from scbeta import plots

    fig = plots.figure2(ad.read_h5ad(embedding), read_tsv(table), [ad.read_h5ad(p) for p in latents])
    save_with_note(fig, [png, pdf], reduced)


@logged
def figure3(*, embedding: str, table: str, latents: list[str], png: str, pdf: str, identity: str,
            stimulation: str, targets: list[str], reduced: str = "") -> None:
    """Figure 3 of the preprint from the real dataset's cached UMAP, its metric table and the panel-E latents;
    `reduced` goes under the figure and into its metadata."""
    from scbeta import plots

    fig = plots.figure3(ad.read_h5ad(embedding), read_tsv(table), [ad.read_h5ad(p) for p in latents],
                        identity=identity, stimulation=stimulation, targets=targets)
    save_with_note(fig, [png, pdf], reduced)


@logged
def summary_figures(*, tables: list[str], tradeoff_png: str, tradeoff_pdf: str, metrics_png: str,
                    metrics_pdf: str, reduced: str = "") -> None:
    """The trade-off figure and every metric against β, over all datasets; `reduced` goes under each figure
    and into its metadata."""
    from scbeta import plots

    frames = [read_tsv(path) for path in tables]
    by_dataset = {str(frame["dataset"].iloc[0]): frame for frame in frames if len(frame)}
    save_with_note(plots.tradeoff(by_dataset), [tradeoff_png, tradeoff_pdf], reduced)
    save_with_note(plots.metrics_by_beta(by_dataset), [metrics_png, metrics_pdf], reduced)
