"""`scbeta.pipeline.evaluate.score_latent` on a latent whose scores are known by construction."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scbeta import registry
from scbeta.pipeline.evaluate import score_latent

N_CELLS = 400


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    """Dim 0 is the numeric factor `dose`; dim 1 puts cell type A below 0 and B above; dim 2 is noise;
    posterior variances 0.5."""
    rng = np.random.default_rng(0)
    dose = rng.normal(size=N_CELLS)
    cell_type = np.repeat(["A", "B"], N_CELLS // 2)
    separated = np.where(cell_type == "A", -3.0, 3.0) + rng.uniform(-1, 1, N_CELLS)
    latent = np.column_stack([dose, separated, rng.normal(size=N_CELLS)])
    adata = ad.AnnData(obs=pd.DataFrame({"dose": dose, "cell_type": cell_type},
                                        index=[f"cell{i}" for i in range(N_CELLS)]))
    adata.obsm["X_latent"] = latent
    # A VAE's latent also carries its posterior variances and its last epoch's terms (collapse diagnostics).
    adata.obsm["X_latent_var"] = np.full_like(latent, 0.5)
    adata.uns["training"] = {"final_recon": 1800.0, "final_kl": 3.0}
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
    # A VAE's latent: no program recovery (scored elsewhere) and no baseline's convergence flag.
    assert set(scores["metric"]) == {name for name, info in registry.METRICS.items()
                                     if info.kind not in ("programs", "fit")}
    for row in scores.itertuples():
        low, high = registry.METRICS[row.metric].range
        assert low - 1e-9 <= row.value <= high + 1e-9, row


def test_collapse_diagnostics_count_the_used_dimensions(scores: pd.DataFrame) -> None:
    values = scores.set_index("metric")["value"]
    assert values["active_units"] == 3  # every dimension varies across cells
    kl = scores[scores["metric"] == "kl_dim"].sort_values("dim")["value"].to_numpy()
    # KL(N(mu, 0.5) ‖ N(0, 1)) = 0.5 (0.5 + mu² − 1 − log 0.5), averaged over cells: largest for the ±3 dimension
    assert kl.argmax() == 1 and (kl > 0).all()
    assert (values["final_recon"], values["final_kl"]) == (1800.0, 3.0)


@pytest.mark.parametrize("converged", [True, False])
def test_a_baselines_convergence_flag_becomes_a_converged_row(converged: bool) -> None:
    from scbeta.pipeline.evaluate import activity_rows

    adata = ad.AnnData(obs=pd.DataFrame(index=[f"cell{i}" for i in range(20)]))
    adata.obsm["X_latent"] = np.random.default_rng(0).normal(size=(20, 3))
    adata.uns["converged"] = converged
    rows = {metric: value for metric, _, _, value in activity_rows(adata)}
    assert rows["converged"] == float(converged)
