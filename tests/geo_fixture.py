"""A small Kang et al. (2018)-shaped dataset in the exact GEO layout, and a local HTTP server for it.

`write_geo_layout` writes the six GSE96583 batch-2 files (gzip, same names and formats as GEO)
under the GEO directory tree, so that `serve` rooted at that folder answers at the same relative
paths as the real GEO server, with optional faults per path. Cells come from a few cell types with
strong expression programs plus an interferon-like stimulation program, so that models trained
on them have something to learn.
"""
from __future__ import annotations

import collections
import contextlib
import gzip
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from scbeta.download import KANG2018_FILES

CELL_TYPES = ("B cells", "CD4 T cells", "CD14+ Monocytes", "NK cells")
DONORS = ("101", "107")
#: GSM id → (stim value, matrix file, barcodes file), in the order the cell table lists them.
SAMPLES = {
    "GSM2560248": ("ctrl", "GSM2560248_2.1.mtx.gz", "GSM2560248_barcodes.tsv.gz"),
    "GSM2560249": ("stim", "GSM2560249_2.2.mtx.gz", "GSM2560249_barcodes.tsv.gz"),
}
GENES_FILE = "GSE96583_batch2.genes.tsv.gz"
TABLE_FILE = "GSE96583_batch2.total.tsne.df.tsv.gz"
TABLE_COLUMNS = ("tsne1", "tsne2", "ind", "stim", "cluster", "cell", "multiplets")


@dataclass
class GeoDataset:
    """What `write_geo_layout` wrote, and the truth behind it."""

    root: Path
    files: dict[str, Path]                       # file name → written path
    counts: dict[str, sp.csr_matrix]             # GSM id → cells × genes integer counts
    barcodes: dict[str, list[str]]               # GSM id → barcodes, in matrix column order
    genes: pd.DataFrame                          # gene_ids, gene_symbols, in matrix row order
    table: pd.DataFrame                          # the cell table; index = its (unique) row names
    duplicate_barcodes: list[str] = field(default_factory=list)  # stim barcodes also in ctrl


def _random_barcodes(rng: np.random.Generator, n: int) -> list[str]:
    """`n` distinct 10x-style barcodes (14 bases + "-1")."""
    found: dict[str, None] = {}  # insertion-ordered, so the result depends on the seed alone
    while len(found) < n:
        found["".join(rng.choice(list("ACGT"), size=14)) + "-1"] = None
    return list(found)


def _expression_profiles(rng: np.random.Generator, n_genes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-type relative expression (types × genes) and the stimulation fold change per gene."""
    block = max(3, n_genes // (2 * len(CELL_TYPES) + 2))
    base = rng.gamma(shape=0.8, scale=1.0, size=n_genes) + 0.05
    profiles = np.tile(base, (len(CELL_TYPES), 1))
    for t in range(len(CELL_TYPES)):
        profiles[t, t * block:(t + 1) * block] *= 12.0        # marker genes of type t
    stim_genes = slice(len(CELL_TYPES) * block, (len(CELL_TYPES) + 1) * block)
    fold = np.ones(n_genes)
    fold[stim_genes] = 10.0                                   # interferon-like response, all types
    return profiles, fold


def _sample_counts(rng: np.random.Generator, profiles: np.ndarray, types: np.ndarray,
                   fold: np.ndarray | None) -> sp.csr_matrix:
    """Gamma-Poisson (negative binomial, theta 10) UMI counts, cells × genes."""
    mean_profile = profiles[types] * (fold if fold is not None else 1.0)
    mean_profile /= mean_profile.sum(axis=1, keepdims=True)
    library = rng.lognormal(mean=np.log(800.0), sigma=0.35, size=(len(types), 1))
    theta = 10.0
    counts = rng.poisson(rng.gamma(shape=theta, scale=library * mean_profile / theta))
    return sp.csr_matrix(counts.astype(np.int64))


def _write_gzip_text(path: Path, text: str) -> None:
    """Gzip `text` with a fixed timestamp, so the same data always gives the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(filename=path.name, fileobj=raw, mode="wb", mtime=0) as out:
        out.write(text.encode())


def _matrix_market(counts: sp.csr_matrix) -> str:
    """Cells × genes counts as MatrixMarket `coordinate integer general`, genes × cells, 10x order."""
    coo = counts.T.tocoo()
    order = np.lexsort((coo.row, coo.col))
    rows, cols, values = coo.row[order] + 1, coo.col[order] + 1, coo.data[order]
    lines = [f"{r} {c} {v}" for r, c, v in zip(rows.tolist(), cols.tolist(), values.tolist())]
    header = f"%%MatrixMarket matrix coordinate integer general\n%\n{coo.shape[0]} {coo.shape[1]} {coo.nnz}\n"
    return header + "\n".join(lines) + "\n"


def _table_text(table: pd.DataFrame) -> str:
    """The cell table as R's write.table writes it: header without a field for the row names."""
    body = table.to_csv(sep="\t", header=False, na_rep="NA", lineterminator="\n")
    return "\t".join(TABLE_COLUMNS) + "\n" + body


def write_geo_layout(folder: str | Path, n_cells_per_sample: int = 80, n_genes: int = 120, seed: int = 0,
                     flat: bool = False) -> GeoDataset:
    """Write a small GSE96583 batch-2 look-alike under `folder`; return what was written.

    Files go under the GEO tree (`samples/GSM2560nnn/...`, `series/GSE96nnn/...`), or flat into
    `folder` if `flat`. Two stim barcodes also occur in ctrl (the table names them with an extra
    trailing "1"); each sample has two doublets, one ambiguous cell and one cell with no type.
    """
    if n_cells_per_sample < 16 or n_genes < 2 * len(CELL_TYPES) + 4:
        raise ValueError("need at least 16 cells per sample and 12 genes")
    rng = np.random.default_rng(seed)
    root = Path(folder)
    profiles, fold = _expression_profiles(rng, n_genes)

    symbols = [f"GENE{i}" for i in range(n_genes)]
    symbols[-1] = symbols[-2]                           # GEO's symbols are not unique
    genes = pd.DataFrame({"gene_ids": [f"ENSG{i:011d}" for i in range(n_genes)], "gene_symbols": symbols})

    ctrl_barcodes = _random_barcodes(rng, n_cells_per_sample)
    stim_barcodes = [b for b in _random_barcodes(rng, 2 * n_cells_per_sample) if b not in ctrl_barcodes]
    stim_barcodes = stim_barcodes[:n_cells_per_sample]
    duplicates = [ctrl_barcodes[3], ctrl_barcodes[7]]
    stim_barcodes[5], stim_barcodes[11] = duplicates   # the same barcode in both lanes

    counts: dict[str, sp.csr_matrix] = {}
    barcodes: dict[str, list[str]] = {}
    tables = []
    for gsm, (stim, _, _) in SAMPLES.items():
        n = n_cells_per_sample
        types = rng.permutation(np.resize(np.arange(len(CELL_TYPES)), n))
        counts[gsm] = _sample_counts(rng, profiles, types, fold if stim == "stim" else None)
        barcodes[gsm] = ctrl_barcodes if stim == "ctrl" else stim_barcodes
        multiplets = np.array(["singlet"] * n, dtype=object)
        multiplets[[0, 1]] = "doublet"
        multiplets[2] = "ambs"
        cell = np.array([CELL_TYPES[t] for t in types], dtype=object)
        cell[9] = None                                  # a singlet without a cell type
        angle = 2 * np.pi * types / len(CELL_TYPES)
        tsne = rng.normal(size=(n, 2)) + 8.0 * np.column_stack([np.cos(angle), np.sin(angle)])
        tsne[4] = np.nan
        cluster = pd.array(types + 1, dtype="Int64")
        cluster[4] = pd.NA
        row_names = [b if stim == "ctrl" or b not in ctrl_barcodes else b + "1" for b in barcodes[gsm]]
        tables.append(pd.DataFrame(
            {"tsne1": tsne[:, 0], "tsne2": tsne[:, 1], "ind": np.resize(np.array(DONORS), n), "stim": stim,
             "cluster": cluster, "cell": cell, "multiplets": multiplets}, index=row_names))
    table = pd.concat(tables)

    files: dict[str, Path] = {}

    def place(name: str, text: str) -> None:
        files[name] = root / (name if flat else KANG2018_FILES[name])
        _write_gzip_text(files[name], text)

    for gsm, (_, matrix_file, barcode_file) in SAMPLES.items():
        place(matrix_file, _matrix_market(counts[gsm]))
        place(barcode_file, "\n".join(barcodes[gsm]) + "\n")
    place(GENES_FILE, genes.to_csv(sep="\t", header=False, index=False, lineterminator="\n"))
    place(TABLE_FILE, _table_text(table))
    return GeoDataset(root=root, files=files, counts=counts, barcodes=barcodes, genes=genes, table=table,
                      duplicate_barcodes=duplicates)


@dataclass(frozen=True)
class Fault:
    """What the test server does instead of serving a file normally."""

    kind: str            # "truncate", "corrupt", "status" or "flaky"
    status: int = 500    # HTTP status for "status" and "flaky"
    times: int = 0       # "flaky": how many requests fail before the file is served

    @classmethod
    def truncated(cls) -> Fault:
        """Announce the full Content-Length but send only the first half, then close."""
        return cls("truncate")

    @classmethod
    def corrupt_gzip(cls) -> Fault:
        """Send the full length with a damaged gzip CRC, so only full decompression notices."""
        return cls("corrupt")

    @classmethod
    def not_found(cls) -> Fault:
        """Always answer 404."""
        return cls("status", status=404)

    @classmethod
    def flaky(cls, times: int = 2, status: int = 500) -> Fault:
        """Answer `status` to the first `times` requests, then serve the file."""
        return cls("flaky", status=status, times=times)


def _damaged(body: bytes) -> bytes:
    """`body` with the CRC-32 in its gzip trailer inverted."""
    crc = bytes(b ^ 0xFF for b in body[-8:-4])
    return body[:-8] + crc + body[-4:]


def _handler(root: Path, faults: Mapping[str, Fault], hits: collections.Counter,
             lock: threading.Lock) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format, *args):  # keep test output clean
            pass

        def do_GET(self):
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
            with lock:
                hits[path] += 1
                seen = hits[path]
            fault = faults.get(path)
            if fault is None or (fault.kind == "flaky" and seen > fault.times):
                return super().do_GET()
            if fault.kind in ("status", "flaky"):
                return self.send_error(fault.status)
            body = (root / path).read_bytes()
            announced = len(body)
            body = body[: len(body) // 2] if fault.kind == "truncate" else _damaged(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(announced))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

    return Handler


@contextlib.contextmanager
def serve(folder: str | Path, faults: Mapping[str, Fault] | None = None,
          hits: collections.Counter | None = None) -> Iterator[str]:
    """Serve `folder` over HTTP on 127.0.0.1 (a free port) in a thread; yield the base URL.

    `faults` maps a path relative to `folder` (as in `KANG2018_FILES`) to a `Fault`. If given,
    `hits` counts GET requests per relative path.
    """
    hits = collections.Counter() if hits is None else hits
    handler = _handler(Path(folder), dict(faults or {}), hits, threading.Lock())
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
