"""Downloads from a real local HTTP server, with injected faults; never reaches the internet."""
from __future__ import annotations

import collections
import logging
import os
import re
import socket
from pathlib import Path

import pytest

from geo_fixture import Fault, serve, write_geo_layout
from scbeta.download import (
    KANG2018_FILES,
    MANIFEST_NAME,
    DownloadError,
    IntegrityError,
    download_file,
    fetch_kang2018,
    file_record,
    read_manifest,
)

MATRIX = "GSM2560248_2.1.mtx.gz"
MATRIX_PATH = KANG2018_FILES[MATRIX]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Requests to the local server must not go through a proxy configured in the environment."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def geo(tmp_path_factory):
    return write_geo_layout(tmp_path_factory.mktemp("geo"), n_cells_per_sample=40, n_genes=60)


def _files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_fetch_writes_six_files_and_manifest(geo, tmp_path):
    dest = tmp_path / "raw"
    hits = collections.Counter()
    with serve(geo.root, hits=hits) as url:
        paths = fetch_kang2018(dest, base_url=url, backoff=0)
    assert sorted(paths) == sorted(KANG2018_FILES)
    assert _files_in(dest) == sorted([*KANG2018_FILES, MANIFEST_NAME])   # no leftover temporary files
    for name, path in paths.items():
        assert path.read_bytes() == geo.files[name].read_bytes()
    assert read_manifest(dest / MANIFEST_NAME) == {name: file_record(p) for name, p in paths.items()}
    assert hits == collections.Counter(KANG2018_FILES.values())


def test_second_run_does_not_download_again(geo, tmp_path):
    hits = collections.Counter()
    with serve(geo.root, hits=hits) as url:
        fetch_kang2018(tmp_path, base_url=url, backoff=0)
        fetch_kang2018(tmp_path, base_url=url, backoff=0)
    assert sum(hits.values()) == len(KANG2018_FILES)


def test_missing_recorded_file_is_fetched_again(geo, tmp_path):
    hits = collections.Counter()
    with serve(geo.root, hits=hits) as url:
        fetch_kang2018(tmp_path, base_url=url, backoff=0)
        (tmp_path / MATRIX).unlink()
        fetch_kang2018(tmp_path, base_url=url, backoff=0)
    assert hits[MATRIX_PATH] == 2
    assert (tmp_path / MATRIX).read_bytes() == geo.files[MATRIX].read_bytes()


def test_file_changed_after_manifest_is_an_error(geo, tmp_path):
    with serve(geo.root) as url:
        fetch_kang2018(tmp_path, base_url=url, backoff=0)
        expected = file_record(tmp_path / MATRIX)
        (tmp_path / MATRIX).write_bytes(b"something else")
        with pytest.raises(IntegrityError) as err:
            fetch_kang2018(tmp_path, base_url=url, backoff=0)
    message = str(err.value)
    assert MATRIX in message and expected.sha256 in message and f"{expected.size:,} bytes" in message
    assert "found 14 bytes" in message


def test_truncated_download_fails_without_partial_file(geo, tmp_path):
    hits = collections.Counter()
    with serve(geo.root, faults={MATRIX_PATH: Fault.truncated()}, hits=hits) as url:
        with pytest.raises(IntegrityError, match=f"{MATRIX}: truncated"):
            download_file(f"{url}/{MATRIX_PATH}", tmp_path / MATRIX, retries=1, backoff=0)
    assert hits[MATRIX_PATH] == 2          # a cut transfer is worth one more try
    assert _files_in(tmp_path) == []


def test_corrupt_gzip_fails_at_once_without_partial_file(geo, tmp_path):
    hits = collections.Counter()
    with serve(geo.root, faults={MATRIX_PATH: Fault.corrupt_gzip()}, hits=hits) as url:
        with pytest.raises(IntegrityError, match=f"{MATRIX}: corrupt gzip"):
            download_file(f"{url}/{MATRIX_PATH}", tmp_path / MATRIX, retries=3, backoff=0)
    assert hits[MATRIX_PATH] == 1
    assert _files_in(tmp_path) == []


def test_not_found_fails_at_once_naming_the_url(geo, tmp_path):
    hits = collections.Counter()
    with serve(geo.root, faults={MATRIX_PATH: Fault.not_found()}, hits=hits) as url:
        with pytest.raises(DownloadError, match="404") as err:
            fetch_kang2018(tmp_path, base_url=url, backoff=0)
    assert f"{url}/{MATRIX_PATH}" in str(err.value)
    assert hits[MATRIX_PATH] == 1
    assert _files_in(tmp_path) == []       # the matrix is the first file: nothing recorded yet


def test_server_error_is_retried_until_it_clears(geo, tmp_path):
    hits = collections.Counter()
    with serve(geo.root, faults={MATRIX_PATH: Fault.flaky(times=2)}, hits=hits) as url:
        download_file(f"{url}/{MATRIX_PATH}", tmp_path / MATRIX, retries=2, backoff=0)
    assert hits[MATRIX_PATH] == 3
    assert (tmp_path / MATRIX).read_bytes() == geo.files[MATRIX].read_bytes()


def test_persistent_server_error_gives_up_after_the_retries(geo, tmp_path):
    hits = collections.Counter()
    with serve(geo.root, faults={MATRIX_PATH: Fault.flaky(times=10, status=503)}, hits=hits) as url:
        with pytest.raises(DownloadError, match="failed after 3 attempts: HTTP 503"):
            download_file(f"{url}/{MATRIX_PATH}", tmp_path / MATRIX, retries=2, backoff=0)
    assert hits[MATRIX_PATH] == 3
    assert _files_in(tmp_path) == []


def test_connection_refused_is_retried_then_reported(tmp_path):
    with socket.socket() as sock:         # a port that nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/{MATRIX_PATH}"
    with pytest.raises(DownloadError, match="failed after 2 attempts"):
        download_file(url, tmp_path / MATRIX, retries=1, backoff=0, timeout=5)
    assert _files_in(tmp_path) == []


def test_local_folder_is_copied_and_recorded(geo, tmp_path, caplog):
    flat = write_geo_layout(tmp_path / "flat", n_cells_per_sample=40, n_genes=60, flat=True)
    with caplog.at_level(logging.WARNING, logger="scbeta"):
        paths = fetch_kang2018(tmp_path / "raw", local_dir=flat.root)
    for name, path in paths.items():
        assert path.read_bytes() == flat.files[name].read_bytes()
    assert set(read_manifest(tmp_path / "raw" / MANIFEST_NAME)) == set(KANG2018_FILES)
    assert any(MATRIX in r.getMessage() and "GEO lists 28,545,918 bytes" in r.getMessage() for r in caplog.records)


def test_corrupt_local_file_is_not_copied(tmp_path):
    flat = write_geo_layout(tmp_path / "flat", n_cells_per_sample=40, n_genes=60, flat=True)
    body = flat.files[MATRIX].read_bytes()
    flat.files[MATRIX].write_bytes(body[: len(body) // 2])
    with pytest.raises(IntegrityError, match="truncated"):
        fetch_kang2018(tmp_path / "raw", local_dir=flat.root)
    assert MATRIX not in _files_in(tmp_path / "raw")


def test_a_local_file_changed_in_place_is_caught_by_its_content(tmp_path):
    # Same size and an older modification time (restored with cp -p, say): only the content tells.
    flat = write_geo_layout(tmp_path / "flat", n_cells_per_sample=40, n_genes=60, flat=True)
    dest = tmp_path / "raw"
    fetch_kang2018(dest, local_dir=flat.root)
    source, copy = flat.files[MATRIX], dest / MATRIX
    original, times = source.read_bytes(), (source.stat().st_atime, source.stat().st_mtime - 60)
    changed = bytearray(original)
    changed[4:8] = (int.from_bytes(original[4:8], "little") ^ 1).to_bytes(4, "little")  # the gzip header's time
    source.write_bytes(bytes(changed))
    os.utime(source, times)
    assert source.stat().st_size == copy.stat().st_size and source.stat().st_mtime < copy.stat().st_mtime
    with pytest.raises(IntegrityError, match=re.escape(f"{source} changed since it was recorded")):
        fetch_kang2018(dest, local_dir=flat.root)
    assert copy.read_bytes() == original  # the recorded copy stays
    copy.unlink()  # as the workflow leaves it: it deletes a job's outputs before the job runs
    with pytest.raises(IntegrityError, match=re.escape(f"{source} changed since it was recorded")):
        fetch_kang2018(dest, local_dir=flat.root)
    assert not copy.exists()
    source.write_bytes(original)
    fetch_kang2018(dest, local_dir=flat.root)
    assert copy.read_bytes() == original
