import numpy as np
import pytest
import scipy.sparse as sp

from scbeta.simulate import factor_names, simulate_counts


@pytest.fixture(scope="module")
def adata():
    return simulate_counts(3000, 400, n_identities=3, n_activities=1, seed=7, lib_loc=8.0, lib_scale=0.3,
                           de_prob=0.1, de_loc=1.0, de_scale=0.5, activity_gene_prob=0.1, activity_loc=1.5,
                           activity_scale=0.3)


def test_same_seed_same_counts_and_other_seed_differs(adata):
    again = simulate_counts(3000, 400, n_identities=3, n_activities=1, seed=7, lib_loc=8.0, lib_scale=0.3,
                            de_prob=0.1, de_loc=1.0, de_scale=0.5, activity_gene_prob=0.1, activity_loc=1.5,
                            activity_scale=0.3)
    assert (adata.X != again.X).nnz == 0
    other = simulate_counts(3000, 400, n_identities=3, n_activities=1, seed=8)
    assert (adata.X != other.X).nnz > 0


def test_counts_are_nonnegative_integers(adata):
    values = adata.X.data
    assert values.min() >= 0 and np.array_equal(values, np.round(values))


def test_library_sizes_follow_the_lognormal(adata):
    log_totals = np.log(np.asarray(adata.X.sum(axis=1)).ravel())
    # Poisson–gamma sampling keeps each cell's expected total at its drawn library size.
    assert abs(log_totals.mean() - 8.0) < 0.05
    assert abs(log_totals.std() - 0.3) < 0.05
    assert abs(np.log(adata.obs["library_size"]).std() - 0.3) < 0.02


def test_gene_means_follow_the_gamma():
    sim = simulate_counts(50, 20000, seed=1, outlier_prob=0.0)
    means = sim.var["base_mean"]
    assert abs(means.mean() - 0.6 / 0.3) < 0.1  # Gamma(shape 0.6, rate 0.3) has mean 2
    assert abs(means.var() - 0.6 / 0.3**2) < 0.6  # and variance 6.67


def test_outlier_genes_sit_above_the_median():
    sim = simulate_counts(50, 5000, seed=2, outlier_prob=0.2)
    outliers = sim.var.loc[sim.var["is_outlier"], "base_mean"]
    assert 0.15 < sim.var["is_outlier"].mean() < 0.25
    ratio = np.log(outliers / np.median(sim.var["base_mean"][~sim.var["is_outlier"]]))
    assert abs(ratio.mean() - 4.0) < 0.3  # LogNormal(4, 0.5) factors times a median near the base median


def test_activity_genes_track_activity_usage(adata):
    genes = adata.var["activity_00_gene"].to_numpy()
    x = adata.X.toarray()
    share = x[:, genes].sum(axis=1) / x.sum(axis=1)
    assert np.corrcoef(share, adata.obs["activity_00"])[0, 1] > 0.6


def test_identity_genes_mark_their_identity(adata):
    x = adata.X.toarray()
    x = x / x.sum(axis=1, keepdims=True)
    for k in range(3):
        name = f"identity_{k:02d}"
        up = (adata.var[f"{name}_factor"] > 1.5).to_numpy()
        in_type = (adata.obs["identity"] == name).to_numpy()
        assert x[in_type][:, up].sum(1).mean() > 1.5 * x[~in_type][:, up].sum(1).mean()


def test_ground_truth_is_recorded(adata):
    assert factor_names(adata) == ["identity_00", "identity_01", "identity_02", "activity_00"]
    usage = adata.obs[["identity_00", "identity_01", "identity_02", "activity_00"]].sum(axis=1)
    np.testing.assert_allclose(usage, 1.0)
    users = adata.obs["activity_00"] > 0
    assert 0.25 < users.mean() < 0.35
    assert adata.obs.loc[users, "activity_00"].between(0.1, 0.7).all()
    assert adata.uns["simulation"]["seed"] == 7


def test_dropout_removes_low_counts():
    plain = simulate_counts(200, 300, seed=3)
    dropped = simulate_counts(200, 300, seed=3, dropout_mid=3.0, dropout_shape=-1.0)
    assert dropped.X.nnz < 0.9 * plain.X.nnz


@pytest.mark.parametrize("bad", [{"n_cells": 0}, {"de_prob": 1.5}, {"activity_usage_max": 1.0}])
def test_bad_parameters_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        simulate_counts(**{"n_cells": 10, "n_genes": 10, **bad})


def test_row_blocks_stack_like_scipy_and_are_released():
    from scbeta.simulate import _stack_rows

    rng = np.random.default_rng(0)
    blocks = [sp.random(rows, 40, density=0.2, format="csr", dtype=np.float32, random_state=rng)
              for rows in (7, 1, 30, 12)]
    expected = sp.vstack(blocks, format="csr")
    stacked = _stack_rows(blocks)
    assert blocks == []
    assert stacked.shape == expected.shape and (stacked != expected).nnz == 0
    assert stacked.indices.dtype == stacked.indptr.dtype == np.int32


def test_chunked_simulation_is_a_valid_csr_of_all_cells():
    adata = simulate_counts(n_cells=250, n_genes=60, seed=2, chunk_size=64)
    adata.X.check_format(full_check=True)
    assert adata.shape == (250, 60) and adata.X.has_sorted_indices
    assert np.array_equal(adata.X.data, np.round(adata.X.data)) and (adata.X.data > 0).all()
