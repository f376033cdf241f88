import numpy as np
import pandas as pd
import pytest

from scbeta.metrics import max_abs_corr


@pytest.fixture
def factors():
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(2000, 3)), columns=["a", "b", "c"])


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_latent_equal_to_factors_scores_one(factors, method):
    latent = factors.to_numpy()[:, [2, 0, 1]] * np.array([-3.0, 0.5, 10.0])  # permuted, rescaled, flipped
    table = max_abs_corr(latent, factors, method=method)
    np.testing.assert_allclose(table["abs_corr"], 1.0)
    assert list(table["dim"]) == [1, 2, 0]
    assert table.loc["a", "corr"] == pytest.approx(0.5 / abs(0.5))
    assert table.loc["c", "corr"] == pytest.approx(-1.0)


def test_independent_noise_scores_near_zero(factors):
    latent = np.random.default_rng(1).normal(size=(2000, 10))
    assert max_abs_corr(latent, factors)["abs_corr"].max() < 0.1


def test_spearman_sees_monotone_transforms(factors):
    latent = np.exp(factors.to_numpy())
    assert max_abs_corr(latent, factors, method="spearman")["abs_corr"].min() == pytest.approx(1.0)
    assert max_abs_corr(latent, factors, method="pearson")["abs_corr"].max() < 0.9


def test_constant_dimension_scores_zero(factors):
    latent = np.column_stack([np.ones(2000), np.random.default_rng(2).normal(size=2000)])
    table = max_abs_corr(latent, factors)
    assert np.isfinite(table["abs_corr"]).all()
    assert (table["dim"] == 1).all()  # the constant dimension correlates with nothing


def test_shape_mismatch_is_refused(factors):
    with pytest.raises(ValueError, match="2000 cells"):
        max_abs_corr(np.zeros((10, 2)), factors)
