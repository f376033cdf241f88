"""Known answers for the clustering and identity metrics."""
from __future__ import annotations

import time

import numpy as np
import pytest

from scbeta.metrics.clustering import best_ari, identity_accuracy


def _one_hot_latent(n_per_type: int = 60, n_types: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat([f"type {t}" for t in range(n_types)], n_per_type)
    one_hot = np.eye(n_types)[np.repeat(np.arange(n_types), n_per_type)]
    latent = one_hot + rng.normal(scale=0.01, size=one_hot.shape)
    order = rng.permutation(len(labels))
    return latent[order], labels[order]


def test_one_hot_latent_is_perfect():
    latent, labels = _one_hot_latent()
    result = best_ari(latent, labels)
    assert set(result) == {"ari", "nmi", "resolution"}
    assert result["ari"] == pytest.approx(1.0) and result["nmi"] == pytest.approx(1.0)
    table = identity_accuracy(latent, labels)
    assert list(table.columns) == ["label", "dim", "balanced_accuracy"]
    assert table["balanced_accuracy"].tolist() == pytest.approx([1.0] * 4)
    assert table["dim"].tolist() == [0, 1, 2, 3]      # type t is one-hot in dimension t


def test_a_dimension_equal_to_a_binary_label_is_found():
    rng = np.random.default_rng(1)
    label = rng.integers(0, 2, size=300)
    latent = np.column_stack([rng.normal(size=300), label.astype(float), rng.normal(size=300)])
    table = identity_accuracy(latent, label)
    assert table["label"].tolist() == ["0", "1"]
    assert table["dim"].tolist() == [1, 1]
    assert table["balanced_accuracy"].tolist() == pytest.approx([1.0, 1.0])


def test_uninformative_latent_scores_near_chance():
    rng = np.random.default_rng(2)
    latent, labels = rng.normal(size=(600, 3)), rng.integers(0, 3, size=600)
    assert identity_accuracy(latent, labels)["balanced_accuracy"].max() < 0.62
    assert best_ari(latent, labels, resolutions=(0.5, 1.0))["ari"] < 0.05


@pytest.mark.parametrize("neighbors_method", ["umap", "gauss"])
def test_both_graph_weightings_recover_separated_types_and_not_noise(neighbors_method):
    latent, labels = _one_hot_latent(n_per_type=80, n_types=5, seed=4)
    assert best_ari(latent, labels, neighbors_method=neighbors_method)["ari"] == pytest.approx(1.0)
    noise = np.random.default_rng(5).normal(size=latent.shape)
    assert best_ari(noise, labels, neighbors_method=neighbors_method)["ari"] < 0.05


def test_unknown_graph_weighting_is_refused():
    latent, labels = _one_hot_latent()
    with pytest.raises(ValueError, match="neighbors_method must be 'umap' or 'gauss', got 'knn'"):
        best_ari(latent, labels, neighbors_method="knn")


def test_labels_with_too_few_cells_give_nan():
    latent, labels = _one_hot_latent(n_per_type=20, n_types=2)
    labels = labels.astype(object)
    labels[0] = "rare"
    table = identity_accuracy(latent, labels).set_index("label")
    assert np.isnan(table.loc["rare", "balanced_accuracy"])
    assert table.loc["type 1", "balanced_accuracy"] > 0.95


def test_bad_inputs_are_rejected():
    latent, labels = _one_hot_latent(n_per_type=10)
    with pytest.raises(ValueError, match="labels"):
        best_ari(latent, labels[:-1])
    with pytest.raises(ValueError, match="missing"):
        identity_accuracy(latent, np.where(np.arange(len(labels)) == 3, None, labels))


def test_best_ari_on_ten_thousand_cells():
    rng = np.random.default_rng(3)
    n_types, n_cells = 6, 10_500
    centres = rng.normal(scale=6.0, size=(n_types, 10))
    labels = rng.integers(0, n_types, size=n_cells)
    latent = centres[labels] + rng.normal(size=(n_cells, 10))
    start = time.perf_counter()
    result = best_ari(latent, labels, resolutions=(0.05, 0.1, 0.2))
    assert result["ari"] > 0.95
    assert result["resolution"] in (0.05, 0.1, 0.2)
    assert time.perf_counter() - start < 60
