"""Count matrices: validation and access to the raw counts of an AnnData."""
from __future__ import annotations

import gzip
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp


def counts_matrix(adata: ad.AnnData, layer: str | None = None, source: str = "adata") -> sp.csr_matrix:
    """Return the raw counts (cells × genes) as float32 CSR, after checking they are counts.

    Raises ValueError naming `source` (a file or dataset name) if the matrix is empty, holds
    negative, non-integer or non-finite values, or `layer` does not exist.
    """
    if layer is not None and layer not in adata.layers:
        raise ValueError(f"{source}: layer {layer!r} not found; available layers: {sorted(adata.layers)}")
    matrix = adata.X if layer is None else adata.layers[layer]
    if matrix is None or adata.n_obs == 0 or adata.n_vars == 0:
        raise ValueError(f"{source}: the count matrix is empty ({adata.n_obs} cells × {adata.n_vars} genes)")
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    values = matrix.data
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{source}: counts must be finite; found NaN or Inf")
    if values.size and values.min() < 0:
        raise ValueError(f"{source}: counts must be non-negative; found {values.min():g}")
    if not np.array_equal(values, np.round(values)):
        bad = values[values != np.round(values)][0]
        raise ValueError(f"{source}: counts must be integers (raw UMI counts, not normalised values); found {bad:g}")
    matrix.eliminate_zeros()
    return matrix


# --- Kang et al. (2018) PBMCs, GEO GSE96583 batch 2 ------------------------------------------

#: GSM id → (matrix file, barcodes file); control lane 2.1 first, as in the cell table.
KANG2018_SAMPLES: dict[str, tuple[str, str]] = {
    "GSM2560248": ("GSM2560248_2.1.mtx.gz", "GSM2560248_barcodes.tsv.gz"),  # control
    "GSM2560249": ("GSM2560249_2.2.mtx.gz", "GSM2560249_barcodes.tsv.gz"),  # IFN-beta stimulated
}
KANG2018_GENES = "GSE96583_batch2.genes.tsv.gz"
KANG2018_CELLS = "GSE96583_batch2.total.tsne.df.tsv.gz"
KANG2018_CELL_COLUMNS = ("tsne1", "tsne2", "ind", "stim", "cluster", "cell", "multiplets")


def _read_lines(path: Path) -> list[str]:
    """Non-empty lines of a (gzip) text file."""
    with gzip.open(path, "rt") if path.name.endswith(".gz") else open(path) as handle:
        return [line.strip() for line in handle if line.strip()]


class SourceFileError(ValueError):
    """A downloaded file that cannot be parsed; `path` is the file to fetch again."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def _read_sample_counts(path: Path, n_genes: int) -> sp.csr_matrix:
    """A genes × cells MatrixMarket file as cells × genes float32 CSR; never densified."""
    try:
        matrix = scipy.io.mmread(path)
    except (ValueError, OSError, EOFError, IndexError, OverflowError) as err:
        raise SourceFileError(path, f"not a readable MatrixMarket count matrix ({err})") from err
    if not sp.issparse(matrix):
        raise SourceFileError(path, "expected a sparse MatrixMarket 'coordinate' matrix, found a dense 'array' one")
    if matrix.shape[0] != n_genes:
        raise ValueError(f"{path}: {matrix.shape[0]} rows, but {KANG2018_GENES} lists {n_genes} genes")
    return sp.csr_matrix(matrix.T, dtype=np.float32)


def _read_genes(path: Path) -> pd.DataFrame:
    """Ensembl id and symbol per gene, in matrix row order."""
    try:
        genes = pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False)
    except (ValueError, OSError, EOFError) as err:  # pandas' ParserError is a ValueError
        raise SourceFileError(path, f"not a readable gene table ({err})") from err
    if genes.shape[1] < 2:
        raise SourceFileError(path, f"expected two tab-separated columns (Ensembl id, symbol), found {genes.shape[1]}")
    return pd.DataFrame({"gene_ids": genes[0].to_numpy(), "gene_symbols": genes[1].to_numpy()})


def _read_cell_table(path: Path) -> pd.DataFrame:
    """The cell table, written by R's write.table: the header has no field for the row names.

    Returns the row names in column `row_name`, then the columns named by the header, with
    t-SNE coordinates as float, `cluster` as nullable integer and the rest categorical.
    """
    try:
        with gzip.open(path, "rt") if path.name.endswith(".gz") else open(path) as handle:
            header = [field.strip('"') for field in handle.readline().rstrip("\r\n").split("\t")]
        table = pd.read_csv(path, sep="\t", skiprows=1, header=None, dtype=str, na_values=["NA"],
                            keep_default_na=False)
    except (ValueError, OSError, EOFError) as err:  # pandas' ParserError and UnicodeDecodeError are ValueErrors
        raise SourceFileError(path, f"not a readable cell table ({err})") from err
    if table.shape[1] == len(header) + 1:
        table.columns = ["row_name", *header]
    elif table.shape[1] == len(header):  # a header that does name the row-name column
        table.columns = ["row_name", *header[1:]]
    else:
        raise SourceFileError(path, f"the header has {len(header)} fields but the rows have {table.shape[1]}")
    missing = [column for column in KANG2018_CELL_COLUMNS if column not in table.columns]
    if missing:
        raise SourceFileError(path, f"column(s) {missing} not found; the header is {header}")
    for column in ("tsne1", "tsne2", "cluster"):
        try:  # Python's float() parses exactly, unlike pandas' fast parser
            table[column] = table[column].astype(np.float64)
        except ValueError as err:
            raise SourceFileError(path, f"column {column!r} must be numeric or NA: {err}") from err
    cluster = table["cluster"].dropna()
    if cluster.eq(cluster.round()).all():
        table["cluster"] = table["cluster"].astype("Int64")
    for column in ("ind", "stim", "cell", "multiplets"):
        table[column] = table[column].astype("category")
    return table


def _barcode_core(barcodes: Sequence[str]) -> np.ndarray:
    """The part of each barcode before '-': the table's row names differ after it for repeated barcodes."""
    return np.array([barcode.split("-", 1)[0] for barcode in barcodes])


def _check_alignment(table: pd.DataFrame, barcodes: Mapping[str, list[str]], path: Path) -> None:
    """Raise ValueError naming `path` unless the table rows are the samples' barcodes, in order."""
    sizes = {sample: len(codes) for sample, codes in barcodes.items()}
    if len(table) != sum(sizes.values()):
        raise ValueError(f"{path}: {len(table)} rows, but the barcode files list {sum(sizes.values())} cells "
                         f"({', '.join(f'{s}: {n}' for s, n in sizes.items())})")
    start = 0
    for sample, codes in barcodes.items():
        rows = table["row_name"].to_numpy()[start:start + len(codes)]
        bad = np.flatnonzero(_barcode_core(rows) != _barcode_core(codes))
        if bad.size:
            i = bad[0]
            raise ValueError(f"{path}: row {start + i + 1} ({rows[i]!r}) does not match barcode {codes[i]!r} "
                             f"(cell {i + 1} of {sample}); {bad.size} of that sample's {len(codes)} rows disagree")
        start += len(codes)


def read_kang2018(folder: str | os.PathLike) -> ad.AnnData:
    """Read the six GSE96583 batch-2 files in `folder` into one AnnData of raw UMI counts.

    X is cells × genes float32 CSR holding all cells of both lanes (control, then stimulated),
    unfiltered. obs has `ind`, `stim`, `cell`, `multiplets`, `cluster`, `tsne1`, `tsne2` from the
    cell table (any may be missing), `sample` (GSM id) and `barcode`; obs_names are
    "<barcode>-<GSM id>". var_names are gene symbols made unique; var["gene_ids"] holds Ensembl ids.
    """
    folder = Path(folder)
    genes = _read_genes(folder / KANG2018_GENES)
    counts, barcodes = [], {}
    for sample, (matrix_file, barcode_file) in KANG2018_SAMPLES.items():
        matrix = _read_sample_counts(folder / matrix_file, len(genes))
        barcodes[sample] = _read_lines(folder / barcode_file)
        if len(barcodes[sample]) != matrix.shape[0]:
            raise ValueError(f"{folder / barcode_file}: {len(barcodes[sample])} barcodes, "
                             f"but {matrix_file} has {matrix.shape[0]} cells")
        counts.append(matrix)
    cells_path = folder / KANG2018_CELLS
    table = _read_cell_table(cells_path)
    _check_alignment(table, barcodes, cells_path)

    samples = np.concatenate([[sample] * len(codes) for sample, codes in barcodes.items()])
    codes = np.concatenate([codes for codes in barcodes.values()])
    obs = table[["ind", "stim", "cell", "multiplets", "cluster", "tsne1", "tsne2"]].copy()
    obs["sample"] = pd.Categorical(samples, categories=list(KANG2018_SAMPLES))
    obs["barcode"] = codes
    obs.index = pd.Index([f"{code}-{sample}" for code, sample in zip(codes, samples)])
    if not obs.index.is_unique:
        raise ValueError(f"{folder}: a barcode occurs twice within one sample's barcodes file")
    var = genes.copy()
    var.index = ad.utils.make_index_unique(pd.Index(genes["gene_symbols"].to_numpy()))
    return ad.AnnData(X=sp.vstack(counts, format="csr", dtype=np.float32), obs=obs, var=var)


def subsample_cells(adata: ad.AnnData, max_cells: int | None, seed: int = 0) -> ad.AnnData:
    """At most `max_cells` cells, drawn uniformly without replacement with `seed`, in their original order.

    Returns `adata` itself when `max_cells` is None or not below its number of cells.
    """
    if max_cells is None or max_cells >= adata.n_obs:
        return adata
    if max_cells < 1:
        raise ValueError(f"max_cells must be at least 1, got {max_cells}")
    chosen = np.random.default_rng(seed).choice(adata.n_obs, size=max_cells, replace=False)
    return adata[np.sort(chosen)].copy()


def prepare_kang2018(adata: ad.AnnData, n_top_genes: int = 2000, max_cells: int | None = None,
                     seed: int = 0) -> ad.AnnData:
    """Singlets with a known cell type, on the `n_top_genes` most variable genes; raw counts kept.

    With `max_cells`, a random subset of that many singlets (`subsample_cells` with `seed`) is kept
    first. Genes are ranked by Seurat v3 normalised variance computed on the counts of the kept
    cells (needs the scikit-misc package); `n_top_genes` is capped at the number of genes. Adds obs
    `stim_indicator` (float32: 1.0 stimulated, 0.0 control) and the ranking statistics to var.
    """
    import scanpy as sc  # slow to import; only this step needs it

    missing = [column for column in ("multiplets", "cell", "stim") if column not in adata.obs]
    if missing:
        raise ValueError(f"Kang et al. (2018) cells: obs column(s) {missing} not found")
    if n_top_genes < 1:
        raise ValueError(f"n_top_genes must be at least 1, got {n_top_genes}")
    keep = (adata.obs["multiplets"] == "singlet").to_numpy() & adata.obs["cell"].notna().to_numpy()
    if not keep.any():
        raise ValueError("Kang et al. (2018) cells: no singlet with a known cell type")
    cells = subsample_cells(adata[keep].copy(), max_cells, seed)
    stim = cells.obs["stim"].astype(object)
    unknown = sorted(set(stim.dropna()) - {"ctrl", "stim"}) + (["NA"] if stim.isna().any() else [])
    if unknown:
        raise ValueError(f"Kang et al. (2018) cells: obs 'stim' must be 'ctrl' or 'stim'; found {unknown}")
    cells.X = counts_matrix(cells, source="Kang et al. (2018) cells")

    ranking = sc.pp.highly_variable_genes(cells, flavor="seurat_v3", n_top_genes=min(n_top_genes, cells.n_vars),
                                          inplace=False)
    selected = ranking["highly_variable"].to_numpy()
    prepared = cells[:, selected].copy()
    for column in ("highly_variable_rank", "means", "variances", "variances_norm"):
        prepared.var[column] = ranking[column].to_numpy()[selected]
    prepared.obs["stim_indicator"] = (stim == "stim").to_numpy().astype(np.float32)
    for column, values in prepared.obs.items():
        if isinstance(values.dtype, pd.CategoricalDtype):
            prepared.obs[column] = values.cat.remove_unused_categories()
    return prepared


def _require_columns(adata: ad.AnnData, columns: Sequence[str], source: str) -> None:
    for column in columns:
        if column not in adata.obs:
            raise ValueError(f"{source}: obs column {column!r} not found; available: {list(adata.obs.columns)}")


def read_dataset_h5ad(path: str | os.PathLike, layer: str | None = None, factors: Sequence[str] = (),
                      identity: str | None = None, name: str | None = None) -> ad.AnnData:
    """Read a user's .h5ad of raw counts: X becomes the checked counts (float32 CSR; from `layer` if given).

    `factors` and `identity` name obs columns that must exist. Raises a one-line ValueError naming
    the dataset (`name`, default the file stem), the file and the problem.
    """
    source = f"dataset {name or Path(path).stem!r} ({path})"
    adata = ad.read_h5ad(path)
    _require_columns(adata, [*factors, *([identity] if identity is not None else [])], source)
    counts = counts_matrix(adata, layer=layer, source=source)
    return ad.AnnData(X=counts, obs=adata.obs.copy(), var=adata.var.copy())


#: An integer factor with at most this many distinct values (other than 0/1) is probably a label.
MAX_INTEGER_LEVELS = 20


def numeric_factor(column: pd.Series, factor: str, source: str) -> pd.Series:
    """The values of `factor`, declared numeric, as floats (missing values stay NaN); a one-line ValueError
    naming `source` where one of them is not a number."""
    values = pd.to_numeric(column.astype(object), errors="coerce")
    not_numbers = column[values.isna() & column.notna()]
    if len(not_numbers):
        raise ValueError(f"{source}: factor {factor!r} is declared numeric but holds {not_numbers.iloc[0]!r}; "
                         f"declare it categorical (factors: {{{factor}: categorical}})")
    return values.astype(float)


def check_factor_columns(obs: pd.DataFrame, factors: Sequence[str], factor_types: Mapping[str, str],
                         source: str) -> None:
    """Raise a one-line ValueError naming `source` for a factor declared numeric that is not, or an
    undeclared integer factor with few distinct values (probably a categorical label stored as numbers)."""
    for factor in factors:
        column = obs[factor]
        declared = factor_types.get(factor)
        if declared == "numeric":
            numeric_factor(column, factor, source)
        if declared is None and pd.api.types.is_integer_dtype(column) and not pd.api.types.is_bool_dtype(column):
            levels = sorted(column.dropna().unique())
            if len(levels) <= MAX_INTEGER_LEVELS and not set(levels) <= {0, 1}:
                shown = ", ".join(map(str, levels[:6])) + (", ..." if len(levels) > 6 else "")
                raise ValueError(f"{source}: factor {factor!r} holds {len(levels)} distinct integers ({shown}), "
                                 f"probably a categorical label; declare its type in the config: "
                                 f"factors: {{{factor}: categorical}} (or numeric)")


def check_identity_labels(obs: pd.DataFrame, identity: str, source: str) -> None:
    """Raise a one-line ValueError naming `source` unless the `identity` column holds at least two labels."""
    labels = obs[identity].dropna().unique()
    if len(labels) < 2:
        found = f"only the label {str(labels[0])!r}" if len(labels) else "no label"
        raise ValueError(f"{source}: identity column {identity!r} holds {found}; clustering and identity "
                         "scores need at least 2 labels (set identity: null to skip them)")


def check_dataset_h5ad(path: str | os.PathLike, layer: str | None = None, factors: Sequence[str] = (),
                       factor_types: Mapping[str, str] | None = None, identity: str | None = None,
                       name: str | None = None, n_check: int = 1000) -> tuple[int, int]:
    """Fast checks of a user's .h5ad before any job starts: it exists, is not empty, has the obs
    columns `factors` and `identity`, the factors fit their declared `factor_types` (see
    `check_factor_columns`), the identity column has at least two labels, and its first `n_check`
    cells hold counts. Returns (cells, genes). Raises a one-line ValueError naming the dataset, the
    file and the problem. The workflow checks all cells again when it imports the file.
    """
    source = f"dataset {name or Path(path).stem!r} ({path})"
    if not Path(path).is_file():
        raise ValueError(f"{source}: file not found")
    try:
        adata = ad.read_h5ad(path, backed="r")
    except Exception as error:  # h5py and anndata raise many types for a file that is not an AnnData
        raise ValueError(f"{source}: not a readable .h5ad file ({type(error).__name__}: {error})") from None
    try:
        # An empty file would otherwise be reported as lacking labels.
        if adata.n_obs == 0 or adata.n_vars == 0:
            raise ValueError(f"{source}: the count matrix is empty ({adata.n_obs} cells × {adata.n_vars} genes)")
        _require_columns(adata, [*factors, *([identity] if identity else [])], source)
        check_factor_columns(adata.obs, factors, factor_types or {}, source)
        if identity:
            check_identity_labels(adata.obs, identity, source)
        head = adata[: min(n_check, adata.n_obs)].to_memory()
        counts_matrix(head, layer=layer, source=source)
        return adata.n_obs, adata.n_vars
    finally:
        adata.file.close()


DONOR_COLUMNS = ("ind", "donor")  # obs columns naming a cell's donor (Kang et al. 2018: `ind`)


def _source_text(spec: Mapping) -> str:
    source = spec["source"]
    if source == "simulate":
        return f"simulated (scbeta.simulate, seed {spec.get('simulate', {}).get('seed', 0)})"
    if source == "kang2018":
        where = f"local copy in {spec['local_dir']}" if spec.get("local_dir") else f"downloaded from {spec['base_url']}"
        text = f"Kang et al. (2018), GEO GSE96583 batch 2, {where}"
    else:
        text = f"{spec['path']}" + (f", layer {spec['layer']}" if spec.get("layer") else "")
    return text + (f"; a random subset of at most {spec['max_cells']:,} cells" if spec.get("max_cells") else "")


def describe_counts(path: str | os.PathLike, dataset: str, spec: Mapping) -> dict:
    """What a dataset's models were trained on: `dataset`, `source` (as configured in `spec`, its config entry),
    `cells`, `genes`, `donors` (None without a donor column, `DONOR_COLUMNS`) and `labels` (distinct values of
    its identity column; None without one), read from its counts file `path` without loading the matrix."""
    adata = ad.read_h5ad(path, backed="r")
    try:
        obs = adata.obs
        donor = next((c for c in DONOR_COLUMNS if c in obs), None)
        identity = spec.get("identity")
        return {"dataset": dataset, "source": _source_text(spec), "cells": int(adata.n_obs), "genes": int(adata.n_vars),
                "donors": int(obs[donor].nunique()) if donor else None,
                "labels": int(obs[identity].nunique()) if identity and identity in obs else None}
    finally:
        adata.file.close()
