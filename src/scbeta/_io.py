"""Atomic file output and provenance: nothing half-written under a final name."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anndata as ad
import pandas as pd


def _umask() -> int:
    """The process's file-creation mask (reading it means setting it; it is restored at once)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it onto `path` only if the block succeeds.

    The file gets the permissions a plain `open(path, "w")` would give (0666 less the umask):
    the temporary file is created private (0600), which would otherwise survive the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def provenance(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Package version and the config an output came from, for `uns`, TSV headers and figure metadata."""
    from scbeta import __version__

    return {"scbeta_version": __version__, "config": json.dumps(config or {}, sort_keys=True, default=str)}


def write_h5ad(adata: ad.AnnData, path: str | os.PathLike, config: Mapping[str, Any] | None = None) -> None:
    """Write `adata` atomically, recording provenance in `uns["scbeta"]`."""
    adata.uns["scbeta"] = provenance(config)
    with atomic_path(path) as tmp:
        adata.write_h5ad(tmp)


def write_tsv(table: pd.DataFrame, path: str | os.PathLike, config: Mapping[str, Any] | None = None,
              index: bool = False) -> None:
    """Write a TSV atomically; its first line is a `#` comment with the package version and config.

    Read it back with `read_tsv` (or `pd.read_csv(path, sep="\\t", comment="#")`).
    """
    meta = provenance(config)
    with atomic_path(path) as tmp:
        with open(tmp, "w") as handle:
            handle.write(f"# scbeta {meta['scbeta_version']} config {meta['config']}\n")
            table.to_csv(handle, sep="\t", index=index)


def read_tsv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a TSV written by `write_tsv`."""
    return pd.read_csv(path, sep="\t", comment="#")


def save_figure(fig, paths: list[str | os.PathLike], config: Mapping[str, Any] | None = None,
                dpi: int = 200, note: str = "") -> None:
    """Save a matplotlib figure to each path (PNG at `dpi`, PDF as vectors), atomically, with provenance.

    A `note` (e.g. that the figure comes from a reduced configuration) goes into the metadata too:
    the PNG's `Warning` text chunk, the PDF's `Keywords`.
    """
    meta = provenance(config)
    for path in paths:
        suffix = Path(path).suffix.lower()
        if suffix == ".png":
            metadata = {"Software": f"scbeta {meta['scbeta_version']}", "Description": meta["config"]}
            if note:
                metadata["Warning"] = note
        else:
            metadata = {"Creator": f"scbeta {meta['scbeta_version']}", "Subject": meta["config"]}
            if note:
                metadata["Keywords"] = note
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=suffix.lstrip("."), metadata=metadata, bbox_inches="tight")
