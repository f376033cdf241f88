"""Download of the Kang et al. (2018) PBMC data (GEO GSE96583, batch 2), with integrity checks.

A file counts as downloaded only when every byte announced by the server arrived and, for
gzip files, the stream decompresses to its end (which also checks its CRC). Nothing is ever
left half-written under a final name. `fetch_kang2018` records the size and SHA-256 of each
file in `MANIFEST.tsv` the first time, and checks the files against it on every later run.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import shutil
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pandas as pd

from scbeta._io import atomic_path

logger = logging.getLogger("scbeta")

GEO_BASE_URL = "https://ftp.ncbi.nlm.nih.gov/geo"

#: File name → path relative to the GEO base URL; files are stored flat under these names.
KANG2018_FILES: Mapping[str, str] = {
    PurePosixPath(path).name: path
    for path in (
        "samples/GSM2560nnn/GSM2560248/suppl/GSM2560248_2.1.mtx.gz",
        "samples/GSM2560nnn/GSM2560248/suppl/GSM2560248_barcodes.tsv.gz",
        "samples/GSM2560nnn/GSM2560249/suppl/GSM2560249_2.2.mtx.gz",
        "samples/GSM2560nnn/GSM2560249/suppl/GSM2560249_barcodes.tsv.gz",
        "series/GSE96nnn/GSE96583/suppl/GSE96583_batch2.genes.tsv.gz",
        "series/GSE96nnn/GSE96583/suppl/GSE96583_batch2.total.tsne.df.tsv.gz",
    )
}

#: Sizes (bytes) GEO lists for some files: a cross-check only, since GEO may re-compress files.
KANG2018_PUBLISHED_SIZES: Mapping[str, int] = {
    "GSE96583_batch2.genes.tsv.gz": 277_054,
    "GSE96583_batch2.total.tsne.df.tsv.gz": 756_342,
    "GSM2560248_2.1.mtx.gz": 28_545_918,
}

MANIFEST_NAME = "MANIFEST.tsv"

_CHUNK = 1 << 20  # bytes per read: bounded memory for any file size
# Server-side conditions that often clear on their own; other HTTP errors are final.
_RETRY_STATUS = frozenset({408, 429})


class DownloadError(RuntimeError):
    """A file could not be obtained."""


class IntegrityError(DownloadError):
    """A file is truncated, corrupt, or differs from its manifest record."""


class _TransientError(Exception):
    """A failure worth retrying (connection trouble, HTTP 5xx, a transfer cut short)."""


class _TruncatedError(_TransientError):
    """Fewer bytes arrived than the server announced."""


@dataclass(frozen=True)
class FileRecord:
    """Size (bytes) and SHA-256 (hex) of one file."""

    size: int
    sha256: str


def file_record(path: str | os.PathLike) -> FileRecord:
    """Size and SHA-256 of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return FileRecord(size=os.path.getsize(path), sha256=digest.hexdigest())


def check_gzip(path: str | os.PathLike, name: str | None = None) -> None:
    """Raise IntegrityError (naming `name`, default the path) unless `path` decompresses to its end."""
    name = name or str(path)
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(_CHUNK):
                pass
    except EOFError as err:
        raise IntegrityError(f"{name}: gzip stream ends early (truncated file): {err}") from err
    except (OSError, zlib.error) as err:
        raise IntegrityError(f"{name}: corrupt gzip data: {err}") from err


def _is_transient_status(status: int) -> bool:
    return status >= 500 or status in _RETRY_STATUS


def _stream_once(url: str, dest: Path, timeout: float) -> None:
    """One attempt: stream `url` into `dest`, checking the byte count against Content-Length."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            received = 0
            with open(dest, "wb") as out:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
    except urllib.error.HTTPError as err:
        err.close()  # the error holds the open connection
        if err.code == 404:
            raise DownloadError(f"{url}: not found on the server (HTTP 404)") from err
        if _is_transient_status(err.code):
            raise _TransientError(f"HTTP {err.code} {err.reason}") from err
        raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from err
    except http.client.IncompleteRead as err:
        raise _TruncatedError("transfer cut short: the connection closed before all announced bytes arrived") from err
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as err:
        raise _TransientError(f"{type(err).__name__}: {err}") from err
    if announced is not None and received != int(announced):
        raise _TruncatedError(f"transfer cut short: received {received:,} of {int(announced):,} bytes")


def download_file(url: str, dest: str | os.PathLike, retries: int = 4, backoff: float = 1.0,
                  timeout: float = 60, gzip_check: bool | None = None,
                  log: logging.Logger | logging.LoggerAdapter = logger) -> Path:
    """Download `url` to `dest`, atomically; return `dest`.

    Makes up to `1 + retries` attempts, waiting `backoff * 2**k` seconds before retry k, on
    connection errors, timeouts (`timeout` seconds per socket operation), HTTP 5xx and transfers
    that end before Content-Length bytes. HTTP 404 and other client errors fail at once.
    `gzip_check` (default: `dest` ends in ".gz") also requires the file to decompress to its end.
    Raises DownloadError, or IntegrityError for a truncated or corrupt file; either way no file
    is left under `dest` and no temporary file beside it.
    """
    if retries < 0:
        raise ValueError(f"retries must be non-negative, got {retries}")
    dest = Path(dest)
    if gzip_check is None:
        gzip_check = dest.name.endswith(".gz")
    for attempt in range(retries + 1):
        try:
            with atomic_path(dest) as tmp:
                _stream_once(url, tmp, timeout)
                if gzip_check:
                    check_gzip(tmp, name=url)
            return dest
        except _TransientError as err:
            if attempt == retries:
                if isinstance(err, _TruncatedError):
                    raise IntegrityError(f"{url}: truncated download after {attempt + 1} attempts: {err}") from err
                raise DownloadError(f"{url}: failed after {attempt + 1} attempts: {err}") from err
            delay = backoff * 2**attempt
            log.warning("%s: %s; retrying in %.3g s (attempt %d of %d)", url, err, delay, attempt + 2, retries + 1)
            time.sleep(delay)
    raise AssertionError("unreachable")  # the loop either returns or raises


def read_manifest(path: str | os.PathLike) -> dict[str, FileRecord]:
    """File name → record, from a manifest written by `write_manifest`."""
    table = pd.read_csv(path, sep="\t", comment="#", dtype=str)
    return {row.file: FileRecord(size=int(row.size), sha256=row.sha256) for row in table.itertuples()}


def write_manifest(path: str | os.PathLike, records: Mapping[str, FileRecord]) -> None:
    """Write file name, size (bytes) and SHA-256 per file as a TSV, atomically."""
    table = pd.DataFrame({"file": list(records),
                          "size": [r.size for r in records.values()],
                          "sha256": [r.sha256 for r in records.values()]})
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False)


def _mismatch(path: Path, expected: FileRecord, found: FileRecord, manifest: Path, hint: str) -> IntegrityError:
    return IntegrityError(
        f"{path}: does not match {manifest}: expected {expected.size:,} bytes, sha256 {expected.sha256}; "
        f"found {found.size:,} bytes, sha256 {found.sha256}. {hint}")


def _copy_local(source: Path, dest: Path) -> None:
    """Copy `source` to `dest`, requiring gzip files to decompress to their end."""
    if not source.is_file():
        raise DownloadError(f"{source}: not found in the local folder")
    shutil.copyfile(source, dest)
    if source.name.endswith(".gz"):
        check_gzip(dest, name=str(source))


def discard(path: str | os.PathLike) -> None:
    """Delete a fetched file and its record in the `MANIFEST.tsv` beside it, so the next fetch takes it anew."""
    path = Path(path)
    path.unlink(missing_ok=True)
    manifest_path = path.parent / MANIFEST_NAME
    if manifest_path.exists():
        records = read_manifest(manifest_path)
        if records.pop(path.name, None) is not None:
            write_manifest(manifest_path, records)


def _warn_if_unpublished_size(name: str, size: int, log: logging.Logger | logging.LoggerAdapter) -> None:
    published = KANG2018_PUBLISHED_SIZES.get(name)
    if published is not None and published != size:
        log.warning("%s: %s bytes, but GEO lists %s bytes for this file", name, f"{size:,}", f"{published:,}")


def fetch_kang2018(dest_dir: str | os.PathLike, base_url: str = GEO_BASE_URL,
                   local_dir: str | os.PathLike | None = None,
                   log: logging.Logger | logging.LoggerAdapter = logger, retries: int = 4,
                   backoff: float = 1.0) -> dict[str, Path]:
    """Put the six Kang et al. (2018) files flat into `dest_dir`; return file name → path.

    Files come from `base_url` (the GEO tree), or are copied from `local_dir` if given (a folder
    holding the same file names flat). Each new file's size and SHA-256 go into
    `dest_dir/MANIFEST.tsv`. A download already recorded there is checked against it and not
    fetched again; a local file is copied on every call, so that the copy is always the file in
    `local_dir` as it is now, and checked against its record: a file changed there since it was
    recorded is caught by its content, whatever its size and modification time say. A mismatch
    raises IntegrityError naming the file, expected and found, and how to go on.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = dest_dir / MANIFEST_NAME
    records = read_manifest(manifest_path) if manifest_path.exists() else {}
    paths: dict[str, Path] = {}
    for name, relative in KANG2018_FILES.items():
        path = paths[name] = dest_dir / name
        expected = records.get(name)
        source = Path(local_dir) / name if local_dir is not None else None
        # A local file is copied every time: the workflow deletes a job's outputs before it runs, so a copy
        # present here says nothing about its source, and a source changed in place may keep its size and time.
        if source is None and expected is not None and path.exists():
            found = file_record(path)
            if found != expected:
                raise _mismatch(path, expected, found, manifest_path, "Delete the file to fetch it again.")
            log.info("%s: present and matches %s", name, MANIFEST_NAME)
            continue
        with atomic_path(path) as tmp:
            if source is not None:
                log.info("%s: copying from %s", name, local_dir)
                _copy_local(source, tmp)
            else:
                url = f"{base_url.rstrip('/')}/{relative}"
                log.info("%s: downloading %s", name, url)
                download_file(url, tmp, retries=retries, backoff=backoff,
                              gzip_check=name.endswith(".gz"), log=log)
            found = file_record(tmp)
            # A file recorded earlier must come back identical.
            if expected is not None and found != expected:
                hint = ("The source now serves a different file; it was not kept." if source is None else
                        f"{source} changed since it was recorded; to use the new file, delete the line of "
                        f"{name} from {manifest_path} and rerun.")
                raise _mismatch(path, expected, found, manifest_path, hint)
        if expected is None:
            records[name] = found
            # Written after each file so an interrupted run keeps what it already verified.
            write_manifest(manifest_path, records)
        _warn_if_unpublished_size(name, found.size, log)
        log.info("%s: %s bytes, sha256 %s", name, f"{found.size:,}", found.sha256)
    return paths
