"""Atomic file output and provenance: nothing half-written under a final name."""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anndata as ad
import pandas as pd


# Every temporary file this process writes is younger than this module: older ones beside a
# target were left by a process that was killed while writing it.
_IMPORTED_AT = time.time()


def _part_name(path: Path) -> re.Pattern[str]:
    """The names `atomic_path` gives the temporary files of `path` (see tempfile.mkstemp)."""
    return re.compile(rf"\.{re.escape(path.name)}\.[A-Za-z0-9_]{{8}}\.part{re.escape(path.suffix)}")


def remove_stale_parts(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of `path` left by an interrupted write (older than this process).

    Returns the deleted paths.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    pattern = _part_name(path)
    stale = [p for p in path.parent.iterdir()
             if pattern.fullmatch(p.name) and p.is_file() and p.stat().st_mtime < _IMPORTED_AT]
    for part in stale:
        part.unlink(missing_ok=True)
    return stale


def _umask() -> int:
    """The process's file-creation mask (reading it means setting it; it is restored at once)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it onto `path` only if the block succeeds.

    Temporary files of `path` that an earlier, killed process left behind are removed first.
    The file gets the permissions a plain `open(path, "w")` would give (0666 less the umask):
    the temporary file is created private (0600), which would otherwise survive the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def resolve_path(path: str, basedir: str | os.PathLike) -> str:
    """A path from the config: as given if it exists from the working directory (or is absolute), else under
    `basedir` (the workflow's repository, where shipped files such as gene sets and the reference are)."""
    if Path(path).is_absolute() or Path(path).exists():
        return path
    return str(Path(basedir) / path)


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


def save_figure(fig, paths: list[str | os.PathLike], dpi: int = 200, note: str = "") -> None:
    """Save a matplotlib figure to each path (PNG at `dpi`, PDF as vectors), atomically, with the package version
    in its metadata.

    A `note` (e.g. that the figure comes from a reduced configuration) goes into the metadata too:
    the PNG's `Warning` text chunk, the PDF's `Keywords`.
    """
    software = f"scbeta {provenance()['scbeta_version']}"
    for path in paths:
        suffix = Path(path).suffix.lower()
        metadata = {"Software": software} if suffix == ".png" else {"Creator": software}
        if note:
            metadata["Warning" if suffix == ".png" else "Keywords"] = note
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=suffix.lstrip("."), metadata=metadata, bbox_inches="tight")
