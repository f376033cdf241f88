"""`scbeta.pipeline.score_latent` on a latent whose scores are known by construction."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scbeta import registry
from scbeta.pipeline import score_latent

N_CELLS = 400


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    """Dim 0 is the numeric factor `dose`; dim 1 puts cell type A below 0 and B above; dim 2 is noise."""
    rng = np.random.default_rng(0)
    dose = rng.normal(size=N_CELLS)
    cell_type = np.repeat(["A", "B"], N_CELLS // 2)
    separated = np.where(cell_type == "A", -3.0, 3.0) + rng.uniform(-1, 1, N_CELLS)
    latent = np.column_stack([dose, separated, rng.normal(size=N_CELLS)])
    adata = ad.AnnData(obs=pd.DataFrame({"dose": dose, "cell_type": cell_type},
                                        index=[f"cell{i}" for i in range(N_CELLS)]))
    adata.obsm["X_latent"] = latent
    return score_latent(adata, ["dose"], identity="cell_type", resolutions=(0.1, 0.5), n_neighbors=10,
                        neighbors_method="gauss")


def test_a_dimension_equal_to_a_factor_has_correlation_one_at_that_dimension(scores: pd.DataFrame) -> None:
    row = scores[scores["metric"] == "max_abs_corr"].set_index("factor").loc["dose"]
    assert row["dim"] == 0
    assert row["value"] == pytest.approx(1.0)


def test_labels_separated_by_one_dimension_have_identity_accuracy_one_at_it(scores: pd.DataFrame) -> None:
    rows = scores[scores["metric"] == "identity_accuracy"].set_index("factor")
    assert sorted(rows.index) == ["A", "B"]
    assert (rows["dim"] == 1).all()
    assert rows["value"].tolist() == pytest.approx([1.0, 1.0])


def test_two_separated_clusters_are_found_by_leiden(scores: pd.DataFrame) -> None:
    values = scores.set_index("metric")["value"]
    assert values["best_ari"] == pytest.approx(1.0)
    assert values["best_nmi"] == pytest.approx(1.0)


def test_every_row_is_a_registered_metric_within_its_range(scores: pd.DataFrame) -> None:
    assert set(scores["metric"]) == set(registry.METRICS)
    for row in scores.itertuples():
        low, high = registry.METRICS[row.metric].range
        assert low - 1e-9 <= row.value <= high + 1e-9, row
