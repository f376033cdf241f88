"""Reading and preparing the Kang et al. (2018) data, on a small look-alike in the GEO file layout."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from geo_fixture import CELL_TYPES, GENES_FILE, SAMPLES, TABLE_FILE, write_geo_layout
from scbeta.data import prepare_kang2018, read_dataset_h5ad, read_kang2018

N_CELLS, N_GENES = 40, 60


@pytest.fixture(scope="module")
def geo(tmp_path_factory):
    return write_geo_layout(tmp_path_factory.mktemp("kang"), n_cells_per_sample=N_CELLS, n_genes=N_GENES, flat=True)


@pytest.fixture(scope="module")
def adata(geo):
    return read_kang2018(geo.root)


def _rewrite_lines(path: Path, edit) -> None:
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(edit(lines)) + "\n")


def _copy_of(geo, tmp_path: Path) -> Path:
    for name, path in geo.files.items():
        (tmp_path / name).write_bytes(path.read_bytes())
    return tmp_path


def test_shapes_counts_and_genes(geo, adata):
    assert adata.shape == (2 * N_CELLS, N_GENES)
    assert isinstance(adata.X, sp.csr_matrix) and adata.X.dtype == np.float32
    expected = sp.vstack([geo.counts[gsm] for gsm in SAMPLES])
    assert (adata.X != expected).nnz == 0
    assert np.array_equal(adata.X.data, np.round(adata.X.data))
    assert adata.var_names.is_unique
    assert adata.var_names[-2:].tolist() == ["GENE58", "GENE58-1"]      # the duplicated symbol
    assert adata.var["gene_ids"].tolist() == geo.genes["gene_ids"].tolist()


def test_obs_follows_the_cell_table(geo, adata):
    for column in ("ind", "stim", "cell", "multiplets", "cluster", "tsne1", "tsne2", "sample", "barcode"):
        assert column in adata.obs
    assert adata.obs_names.is_unique
    table = geo.table
    for column in ("ind", "stim", "cell", "multiplets"):
        assert adata.obs[column].astype(object).where(adata.obs[column].notna(), None).tolist() == \
            table[column].astype(object).where(table[column].notna(), None).tolist()
    np.testing.assert_array_equal(adata.obs["tsne1"].to_numpy(), table["tsne1"].to_numpy())
    assert adata.obs["cluster"].isna().sum() == 2 and adata.obs["cell"].isna().sum() == 2
    assert adata.obs["sample"].tolist() == ["GSM2560248"] * N_CELLS + ["GSM2560249"] * N_CELLS
    assert adata.obs["stim"].tolist() == ["ctrl"] * N_CELLS + ["stim"] * N_CELLS


def test_barcodes_repeated_across_lanes_are_aligned(geo, adata):
    assert adata.obs["barcode"].tolist() == geo.barcodes["GSM2560248"] + geo.barcodes["GSM2560249"]
    for barcode in geo.duplicate_barcodes:
        both = adata.obs[adata.obs["barcode"] == barcode]
        assert both["sample"].tolist() == ["GSM2560248", "GSM2560249"]
        stim_row = geo.table.loc[barcode + "1"]          # the table's name for the stim cell
        assert both["cell"].iloc[1] == stim_row["cell"]
        assert both["tsne1"].iloc[1] == stim_row["tsne1"]


def test_misaligned_table_is_an_error(geo, tmp_path):
    folder = _copy_of(geo, tmp_path)
    # Swap two stim rows: the counts per sample still agree, the order does not.
    first = N_CELLS + 3                                   # the third stim row (line 0 is the header)
    _rewrite_lines(folder / TABLE_FILE,
                   lambda lines: [*lines[:first], lines[first + 1], lines[first], *lines[first + 2:]])
    with pytest.raises(ValueError, match=rf"{TABLE_FILE}: row {N_CELLS + 3} .* does not match barcode .*GSM2560249"):
        read_kang2018(folder)


def test_table_with_a_missing_row_is_an_error(geo, tmp_path):
    folder = _copy_of(geo, tmp_path)
    _rewrite_lines(folder / TABLE_FILE, lambda lines: lines[:-1])
    expected = rf"{TABLE_FILE}: {2 * N_CELLS - 1} rows, but the barcode files list {2 * N_CELLS} cells"
    with pytest.raises(ValueError, match=expected):
        read_kang2018(folder)


def test_barcodes_not_matching_the_matrix_is_an_error(geo, tmp_path):
    folder = _copy_of(geo, tmp_path)
    barcode_file = SAMPLES["GSM2560249"][2]
    _rewrite_lines(folder / barcode_file, lambda lines: lines[:-1])
    with pytest.raises(ValueError, match=rf"{barcode_file}: {N_CELLS - 1} barcodes"):
        read_kang2018(folder)


def test_genes_not_matching_the_matrix_is_an_error(geo, tmp_path):
    folder = _copy_of(geo, tmp_path)
    _rewrite_lines(folder / GENES_FILE, lambda lines: lines[:-1])
    with pytest.raises(ValueError, match=rf"{SAMPLES['GSM2560248'][1]}: {N_GENES} rows"):
        read_kang2018(folder)


def test_header_naming_the_row_names_is_accepted(geo, adata, tmp_path):
    folder = _copy_of(geo, tmp_path)
    _rewrite_lines(folder / TABLE_FILE, lambda lines: ["barcode\t" + lines[0], *lines[1:]])
    assert read_kang2018(folder).obs.equals(adata.obs)


def test_prepare_keeps_singlets_with_a_cell_type(geo, adata):
    prepared = prepare_kang2018(adata, n_top_genes=20)
    # Per sample: two doublets, one ambiguous cell and one singlet without a type are dropped.
    assert prepared.n_obs == 2 * (N_CELLS - 4)
    assert (prepared.obs["multiplets"] == "singlet").all() and prepared.obs["cell"].notna().all()
    assert set(prepared.obs["cell"].cat.categories) == set(CELL_TYPES)
    assert set(prepared.obs["barcode"]) >= set(geo.duplicate_barcodes)
    assert prepared.n_vars == 20 and prepared.var["highly_variable_rank"].notna().all()
    assert isinstance(prepared.X, sp.csr_matrix) and np.array_equal(prepared.X.data, np.round(prepared.X.data))
    np.testing.assert_array_equal(prepared.obs["stim_indicator"].to_numpy(),
                                  (prepared.obs["stim"] == "stim").to_numpy().astype(np.float32))
    assert prepared.obs["stim_indicator"].dtype == np.float32
    assert adata.n_obs == 2 * N_CELLS                     # the input is left alone


def test_prepare_keeps_a_seeded_subset_of_singlets_in_order(adata):
    full = prepare_kang2018(adata, n_top_genes=20)
    subset = prepare_kang2018(adata, n_top_genes=20, max_cells=30, seed=1)
    assert subset.n_obs == 30 and (subset.obs["multiplets"] == "singlet").all()
    positions = full.obs_names.get_indexer(subset.obs_names)
    assert (positions >= 0).all() and (np.diff(positions) > 0).all()   # a subset, in the original order
    again = prepare_kang2018(adata, n_top_genes=20, max_cells=30, seed=1)
    other = prepare_kang2018(adata, n_top_genes=20, max_cells=30, seed=2)
    assert list(again.obs_names) == list(subset.obs_names) and list(other.obs_names) != list(subset.obs_names)
    assert prepare_kang2018(adata, n_top_genes=20, max_cells=10_000).n_obs == full.n_obs


def test_prepare_caps_the_number_of_genes(adata):
    assert prepare_kang2018(adata, n_top_genes=10_000).n_vars == N_GENES


def test_prepare_rejects_unknown_conditions(adata):
    odd = adata.copy()
    odd.obs["stim"] = odd.obs["stim"].cat.rename_categories({"stim": "IFN"})
    with pytest.raises(ValueError, match="'ctrl' or 'stim'; found \\['IFN'\\]"):
        prepare_kang2018(odd)


def test_read_dataset_h5ad_takes_counts_from_a_layer(adata, tmp_path):
    path = tmp_path / "mine.h5ad"
    mine = adata.copy()
    mine.layers["counts"] = mine.X.copy()
    mine.X = mine.X.multiply(1.0 / (mine.X.sum(axis=1) + 1)).tocsr()   # normalised values in X
    mine.write_h5ad(path)
    read = read_dataset_h5ad(path, layer="counts", factors=("stim",), identity="cell", name="mine")
    assert (read.X != adata.X).nnz == 0
    assert read.obs["cell"].equals(adata.obs["cell"])
    with pytest.raises(ValueError, match="counts must be integers"):
        read_dataset_h5ad(path, name="mine")


def test_read_dataset_h5ad_names_a_missing_column(adata, tmp_path):
    path = tmp_path / "mine.h5ad"
    adata.write_h5ad(path)
    with pytest.raises(ValueError) as err:
        read_dataset_h5ad(path, factors=("stim", "batch"), identity="cell", name="pbmc")
    message = str(err.value)
    assert "\n" not in message
    assert "'pbmc'" in message and str(path) in message and "'batch'" in message
