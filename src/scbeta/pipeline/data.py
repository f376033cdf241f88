"""The steps of `workflow/rules/data.smk`: each dataset's counts, as `results/{dataset}/counts.h5ad`."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scbeta._io import write_h5ad
from scbeta.pipeline import logged, logger


@logged
def download_kang2018(*, files: list[str], base_url: str, local_dir: str | None = None,
                      local_files: Sequence[str] = ()) -> None:
    """Fetch the six GEO files of Kang et al. (2018) into the folder of `files`, checked against its MANIFEST.tsv.

    `local_files` (the files in `local_dir`) are the rule's inputs only so that a changed one reruns it.
    """
    from scbeta.download import fetch_kang2018

    fetch_kang2018(Path(files[0]).parent, base_url=base_url, local_dir=local_dir)


@logged
def prepare_kang2018(*, files: list[str], counts: str, n_top_genes: int, max_cells: int | None = None,
                     subsample_seed: int = 0) -> None:
    """Parse the GEO files into one AnnData of singlets with a cell type (at most `max_cells`), on the most
    variable genes."""
    from scbeta.data import SourceFileError, read_kang2018
    from scbeta.data import prepare_kang2018 as prepare
    from scbeta.download import discard

    try:
        cells = read_kang2018(Path(files[0]).parent)
    except SourceFileError as err:
        # Forget the unreadable file so that the next run fetches it again, e.g. after a fix in local_dir.
        discard(err.path)
        logger.error("removed %s and its manifest record: fix the file at its source (local_dir or server), "
                     "then rerun to fetch it again", err.path)
        raise
    logger.info("read %d cells × %d genes", cells.n_obs, cells.n_vars)
    prepared = prepare(cells, n_top_genes=n_top_genes, max_cells=max_cells, seed=subsample_seed)
    logger.info("kept %d singlets with a cell type, %d highly variable genes", prepared.n_obs, prepared.n_vars)
    write_h5ad(prepared, counts, {"n_top_genes": n_top_genes, "max_cells": max_cells,
                                  "subsample_seed": subsample_seed})


@logged
def import_h5ad(*, path: str, counts: str, name: str, layer: str | None = None, factors: list[str] = (),
                identity: str | None = None, max_cells: int | None = None, subsample_seed: int = 0) -> None:
    """Copy a user's AnnData of raw counts (at most `max_cells` cells) into the workflow, after checking
    its counts and columns."""
    from scbeta.data import read_dataset_h5ad, subsample_cells

    adata = read_dataset_h5ad(path, layer=layer, factors=factors, identity=identity, name=name)
    empty = np.asarray(adata.X.sum(axis=1)).ravel() == 0
    if empty.any():
        logger.warning("dropping %d cells without counts", int(empty.sum()))
        adata = adata[~empty].copy()
    adata = subsample_cells(adata, max_cells, subsample_seed)
    logger.info("imported %d cells × %d genes", adata.n_obs, adata.n_vars)
    write_h5ad(adata, counts, {"path": path, "layer": layer, "max_cells": max_cells, "subsample_seed": subsample_seed})
