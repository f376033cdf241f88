"""Collapse diagnostics on latents whose answer is known: activity, active units, per-dimension KL."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scbeta.metrics import active_units, kl_per_dim, latent_activity
from scbeta.pipeline.evaluate import activity_rows, collapse_table


@pytest.fixture
def latent():
    """Dim 0 equals a factor (uniform on 0–1, variance 1/12), dim 1 is constant, dim 2 barely moves."""
    rng = np.random.default_rng(0)
    factor = rng.uniform(size=5000)
    return np.column_stack([factor, np.full(5000, 0.3), 0.05 * rng.standard_normal(5000)])


def test_activity_is_the_variance_of_the_posterior_mean(latent):
    activity = latent_activity(latent)
    assert activity[0] == pytest.approx(1 / 12, rel=0.05)  # a dimension equal to a factor: active
    assert activity[1] == pytest.approx(0.0, abs=1e-20)  # constant: inactive
    assert activity[2] == pytest.approx(0.0025, rel=0.1)  # below Burda et al.'s 0.01
    assert active_units(latent) == 1
    assert active_units(latent, threshold=0.001) == 2
    assert active_units(np.zeros((10, 4))) == 0
    with pytest.raises(ValueError, match="cells × dims"):
        latent_activity(np.zeros(10))


def test_kl_per_dim_matches_the_closed_form():
    mean = np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])
    var = np.array([[1.0, 1.0, 0.5], [1.0, 1.0, 0.5]])
    # KL(N(μ, σ²) ‖ N(0, 1)) = ½ (μ² + σ² − log σ² − 1)
    assert kl_per_dim(mean, var) == pytest.approx([0.0, 0.5, 0.5 * (0.5 - np.log(0.5) - 1)])
    with pytest.raises(ValueError, match="positive"):
        kl_per_dim(mean, np.zeros_like(var))
    with pytest.raises(ValueError, match="differ in shape"):
        kl_per_dim(mean, var[:, :2])


def _latent_adata(z, var=None, training=None):
    adata = ad.AnnData(obs=pd.DataFrame(index=[f"c{i}" for i in range(len(z))]))
    adata.obsm["X_latent"] = z
    if var is not None:
        adata.obsm["X_latent_var"] = var
    if training is not None:
        adata.uns["training"] = training
    return adata


def test_activity_rows_for_a_vae_and_a_baseline(latent):
    vae = _latent_adata(latent, np.ones_like(latent), {"final_recon": 812.5, "final_kl": 0.018})
    rows = pd.DataFrame(activity_rows(vae), columns=["metric", "factor", "dim", "value"])
    values = rows.set_index(["metric", "dim"])["value"]
    assert values[("active_units", -1)] == 1
    assert values[("latent_activity", 1)] == pytest.approx(0.0, abs=1e-20)
    assert values[("kl_dim", 1)] == pytest.approx(0.5 * 0.09)  # μ = 0.3, σ² = 1
    assert values[("final_recon", -1)] == 812.5 and values[("final_kl", -1)] == 0.018
    assert set(rows["factor"]) == {""}
    baseline = pd.DataFrame(activity_rows(_latent_adata(latent)), columns=["metric", "factor", "dim", "value"])
    assert set(baseline["metric"]) == {"active_units", "latent_activity"}  # no posterior, no training


def test_collapse_table_has_one_row_per_run():
    rows = []
    for run, active, method in (("beta_beta1_cmax0_seed0", 2.0, "vae"), ("pca_seed0", 2.0, "pca")):
        keys = {"dataset": "sim", "run": run, "method": method, "objective": "beta" if method == "vae" else "",
                "beta": 1.0, "c_max": 0.0, "gamma": 0.0, "seed": 0}
        rows += [{**keys, "metric": "active_units", "factor": "", "dim": -1, "value": active},
                 {**keys, "metric": "max_abs_corr", "factor": "identity_00", "dim": 0, "value": 0.5}]
        rows += [{**keys, "metric": "latent_activity", "factor": "", "dim": d, "value": 0.1 * d} for d in range(2)]
        if method == "vae":
            rows += [{**keys, "metric": "kl_dim", "factor": "", "dim": d, "value": 1.0 + d} for d in range(2)]
            rows += [{**keys, "metric": "final_kl", "factor": "", "dim": -1, "value": 3.0}]
    table = collapse_table(pd.DataFrame(rows)).set_index("run")
    assert list(table.index) == ["beta_beta1_cmax0_seed0", "pca_seed0"]
    assert table.loc["beta_beta1_cmax0_seed0", ["active_units", "final_kl", "kl_dim1", "activity_dim1"]].tolist() \
        == [2.0, 3.0, 2.0, 0.1]
    assert np.isnan(table.loc["pca_seed0", "kl_dim0"]) and np.isnan(table.loc["pca_seed0", "final_recon"])
