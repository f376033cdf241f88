"""Atomic outputs: written whole, with the permissions a plain write gives."""
import os
import stat

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from scbeta._io import atomic_path, save_figure, write_h5ad, write_tsv


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_outputs_are_0644_under_umask_022(tmp_path, umask_022):
    write_tsv(pd.DataFrame({"a": [1]}), tmp_path / "table.tsv")
    write_h5ad(ad.AnnData(np.zeros((2, 2), dtype=np.float32)), tmp_path / "data.h5ad")
    fig = plt.figure()
    save_figure(fig, [tmp_path / "figure.png", tmp_path / "figure.pdf"])
    plt.close(fig)
    with atomic_path(tmp_path / "text.md") as tmp:
        tmp.write_text("x")
    with open(tmp_path / "plain.txt", "w") as handle:  # what a normal write gives
        handle.write("x")
    for name in ("table.tsv", "data.h5ad", "figure.png", "figure.pdf", "text.md", "plain.txt"):
        assert _mode(tmp_path / name) == 0o644, name


def test_a_stricter_umask_is_honoured(tmp_path):
    previous = os.umask(0o077)
    try:
        write_tsv(pd.DataFrame({"a": [1]}), tmp_path / "table.tsv")
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "table.tsv") == 0o600


def test_a_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "out.tsv") as tmp:
            tmp.write_text("half")
            raise RuntimeError("job died")
    assert list(tmp_path.iterdir()) == []
