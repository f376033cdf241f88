"""Disentanglement metrics on latents whose answer is known by construction."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mutual_info_score

from scbeta.metrics import all_scores
from scbeta.metrics._common import equal_width_codes, is_categorical, mutual_info_matrix
from scbeta.metrics.disentanglement import dci, dci_from_importance, explicitness, mig, modularity, sap
from scbeta.metrics.drvi import (
    latent_matching_score,
    most_similar_averaging_score,
    most_similar_gap_score,
    smi_matrix,
    spn_matrix,
)

N_CELLS = 3_000


@pytest.fixture(scope="module")
def factors() -> pd.DataFrame:
    """Three continuous factors, a 4-level cell type and a 30 % bool flag, all independent."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "a": rng.normal(size=N_CELLS),
        "b": rng.uniform(size=N_CELLS),
        "c": rng.normal(size=N_CELLS),
        "cell_type": pd.Categorical(rng.choice(["alpha", "beta", "delta", "gamma"], N_CELLS)),
        "flag": rng.random(N_CELLS) < 0.3,
    })


def encode(factors: pd.DataFrame) -> np.ndarray:
    """One numeric column per factor: the value itself or the category code."""
    return np.column_stack([
        factors[name].cat.codes if isinstance(factors[name].dtype, pd.CategoricalDtype)
        else factors[name].astype(float) for name in factors.columns
    ]).astype(float)


@pytest.fixture(scope="module")
def perfect(factors: pd.DataFrame) -> np.ndarray:
    """The factors themselves, columns permuted, rescaled and partly sign-flipped."""
    return encode(factors)[:, [3, 0, 4, 2, 1]] * np.array([2.0, -3.0, 0.5, -1.0, 10.0])


@pytest.fixture(scope="module")
def noise(factors: pd.DataFrame) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(N_CELLS, factors.shape[1]))


@pytest.fixture(scope="module")
def perfect_scores(perfect: np.ndarray, factors: pd.DataFrame) -> dict[str, float]:
    return all_scores(perfect, factors)


@pytest.fixture(scope="module")
def noise_scores(noise: np.ndarray, factors: pd.DataFrame) -> dict[str, float]:
    return all_scores(noise, factors)


ALL_KEYS = {"mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "sap", "modularity",
            "explicitness", "lms_smi", "msas_smi", "msgs_smi", "lms_spn", "msas_spn", "msgs_spn"}


# ---------------------------------------------------------------------------------- known optimum


def test_all_scores_returns_every_aggregate_as_float(perfect_scores: dict[str, float]) -> None:
    assert set(perfect_scores) == ALL_KEYS
    assert all(isinstance(value, float) for value in perfect_scores.values())


@pytest.mark.parametrize("key", sorted(ALL_KEYS))
def test_latent_equal_to_factors_scores_at_maximum(perfect_scores: dict[str, float], key: str) -> None:
    assert perfect_scores[key] == pytest.approx(1.0, abs=0.03)


def test_lasso_dci_at_maximum_for_continuous_factors(perfect: np.ndarray, factors: pd.DataFrame) -> None:
    continuous = factors[["a", "b", "c"]]
    scores = dci(perfect[:, [1, 3, 4]], continuous, model="lasso")
    assert scores == pytest.approx({"disentanglement": 1.0, "completeness": 1.0, "informativeness": 1.0}, abs=0.02)


# ---------------------------------------------------------------------------------- chance level


@pytest.mark.parametrize("key", sorted(ALL_KEYS - {"modularity", "explicitness", "dci_informativeness"}))
def test_independent_noise_scores_near_zero(noise_scores: dict[str, float], key: str) -> None:
    assert noise_scores[key] == pytest.approx(0.0, abs=0.05)


def test_noise_explicitness_is_at_chance(noise_scores: dict[str, float]) -> None:
    assert noise_scores["explicitness"] == pytest.approx(0.5, abs=0.03)


def test_noise_informativeness_no_better_than_guessing(noise_scores: dict[str, float], factors: pd.DataFrame) -> None:
    # Chance: R² 0 for continuous factors, the majority share for categorical ones.
    majority = [factors[name].value_counts(normalize=True).max() for name in ("cell_type", "flag")]
    assert noise_scores["dci_informativeness"] < sum(majority) / factors.shape[1] + 0.02


def test_noise_modularity_well_below_perfect(noise_scores: dict[str, float]) -> None:
    # Modularity ignores how much a dim knows, so noise does not reach 0 (a documented property).
    assert noise_scores["modularity"] < 0.8


def test_lasso_dci_of_noise_is_zero(noise: np.ndarray, factors: pd.DataFrame) -> None:
    scores = dci(noise, factors, model="lasso")
    assert scores["disentanglement"] == pytest.approx(0.0, abs=0.02)
    assert scores["completeness"] == pytest.approx(0.0, abs=0.02)


# ---------------------------------------------------------------------------------- entanglement


@pytest.fixture(scope="module")
def entangled(factors: pd.DataFrame) -> np.ndarray:
    """Dim 0 encodes both `a` and `b`; `b`'s own dim is replaced by noise."""
    latent = encode(factors)
    latent[:, 0] = latent[:, 0] + 3.0 * latent[:, 1]
    latent[:, 1] = np.random.default_rng(2).normal(size=N_CELLS)
    return latent


@pytest.mark.parametrize("model", ["gbt", "lasso"])
def test_dim_encoding_two_factors_lowers_disentanglement(entangled: np.ndarray, perfect: np.ndarray,
                                                         factors: pd.DataFrame, model: str) -> None:
    reference = dci(perfect, factors, model=model)["disentanglement"]
    assert dci(entangled, factors, model=model)["disentanglement"] < reference - 0.15


def test_dim_encoding_two_factors_lowers_mig_and_modularity(entangled: np.ndarray, perfect: np.ndarray,
                                                            factors: pd.DataFrame) -> None:
    assert mig(entangled, factors) < mig(perfect, factors) - 0.2
    assert modularity(entangled, factors) < modularity(perfect, factors) - 0.05


# ---------------------------------------------------------------------------------- redundancy


@pytest.mark.parametrize("model", ["gbt", "lasso"])
def test_redundant_copy_of_a_dim_lowers_completeness(factors: pd.DataFrame, model: str) -> None:
    rng = np.random.default_rng(3)
    single = encode(factors)
    single[:, 0] += 0.3 * rng.normal(size=N_CELLS)
    # A second, equally good reading of `a`: a predictor then relies on both dims.
    copy = (factors["a"].to_numpy() + 0.3 * rng.normal(size=N_CELLS))[:, None]
    redundant = np.hstack([single, copy])
    # Sharing `a` equally between two of six dims costs it 1 − log₆2 ≈ 0.39, i.e. 0.077 of the mean.
    before = dci(single, factors, model=model)["completeness"]
    assert dci(redundant, factors, model=model)["completeness"] < before - 0.04


# ---------------------------------------------------------------------------------- categorical factors


def test_object_and_bool_factors_are_categorical() -> None:
    frame = pd.DataFrame({"s": ["x", "y"], "b": [True, False], "c": pd.Categorical([1, 2]), "f": [0.1, 0.2],
                          "i": [1, 2]})
    assert [is_categorical(frame[name]) for name in frame] == [True, True, True, False, False]


def test_purely_categorical_factors_are_scored_like_continuous_ones() -> None:
    rng = np.random.default_rng(4)
    factors = pd.DataFrame({"stage": rng.choice(["early", "mid", "late"], N_CELLS).astype(object),
                            "batch": pd.Categorical(rng.choice(["b1", "b2"], N_CELLS))})
    codes = np.column_stack([pd.factorize(factors[name], sort=True)[0] for name in factors]).astype(float)
    latent = codes[:, ::-1] + 0.05 * rng.normal(size=codes.shape)
    assert mig(latent, factors) == pytest.approx(1.0, abs=0.02)
    assert sap(latent, factors) == pytest.approx(1.0, abs=0.02)
    assert explicitness(latent, factors) == pytest.approx(1.0, abs=0.01)
    assert dci(latent, factors)["informativeness"] == pytest.approx(1.0, abs=0.01)
    assert mig(rng.normal(size=codes.shape), factors) == pytest.approx(0.0, abs=0.02)


# ---------------------------------------------------------------------------------- definitions


def test_binning_matches_disentanglement_lib_histogram_discretiser() -> None:
    values = np.random.default_rng(5).gamma(2.0, size=(500, 3))
    expected = np.column_stack([np.digitize(v, np.histogram(v, 20)[1][:-1]) - 1 for v in values.T])
    assert np.array_equal(equal_width_codes(values, 20), expected)


def test_mutual_info_matrix_matches_sklearn() -> None:
    rng = np.random.default_rng(6)
    a = rng.integers(0, 5, size=(400, 3))
    b = np.column_stack([a[:, 0] // 2, rng.integers(0, 3, 400)])
    expected = [[mutual_info_score(a[:, i], b[:, j]) for j in range(2)] for i in range(3)]
    assert mutual_info_matrix(a, np.full(3, 5), b, np.array([3, 3])) == pytest.approx(np.array(expected))


def test_sap_of_a_noisy_dim_is_its_squared_correlation() -> None:
    rng = np.random.default_rng(7)
    factor = rng.normal(size=20_000)
    latent = np.column_stack([factor + rng.normal(size=factor.size), rng.normal(size=factor.size)])
    # R² = 1 / (1 + noise variance) = 0.5 for the informative dim, 0 for the other.
    assert sap(latent, pd.DataFrame({"f": factor})) == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize(("importance", "expected"), [
    (np.eye(3), (1.0, 1.0)),
    (np.full((3, 3), 1 / 3), (0.0, 0.0)),
    (np.array([[1.0, 1.0], [0.0, 0.0]]), (0.0, 1.0)),  # one dim carries both factors: complete, not disentangled
    (np.array([[0.5], [0.5]]), (1.0, 0.0)),  # one factor spread over two dims
])
def test_dci_entropy_formulas(importance: np.ndarray, expected: tuple[float, float]) -> None:
    assert dci_from_importance(importance) == pytest.approx(expected, abs=1e-6)


def test_scores_are_reproducible_under_a_seed(perfect: np.ndarray, factors: pd.DataFrame,
                                              perfect_scores: dict[str, float]) -> None:
    assert all_scores(perfect, factors) == perfect_scores


def test_subsampling_estimates_the_same_mig(entangled: np.ndarray, factors: pd.DataFrame) -> None:
    assert mig(entangled, factors, max_cells=2_000, seed=1) == pytest.approx(mig(entangled, factors), abs=0.05)


@pytest.mark.parametrize(("frame", "message"), [
    (pd.DataFrame({"f": np.ones(10)}), "constant"),
    (pd.DataFrame({"f": [np.nan] + [1.0, 2.0] * 4 + [1.0]}), "missing"),
    (pd.DataFrame({"f": np.arange(9.0)}), "cells"),
])
def test_bad_inputs_raise_clear_errors(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mig(np.arange(10.0)[:, None], frame)


def test_unknown_dci_model_raises(perfect: np.ndarray, factors: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'gbt' or 'lasso'"):
        dci(perfect, factors, model="forest")


# ---------------------------------------------------------------------------------- DRVI


def test_drvi_aggregates_match_published_examples() -> None:
    scores = np.array([[0.9, 0.1, 1.0], [0.1, 0.9, 0.1], [0.1, 0.1, 0.9], [0.1, 0.9, 0.1]])
    assert latent_matching_score(scores) == pytest.approx(0.9)
    assert most_similar_averaging_score(scores) == pytest.approx(2.8 / 3)
    assert most_similar_gap_score(scores) == pytest.approx(0.3)


@pytest.mark.parametrize(("indicator", "expected"), [
    ([1, 1, 1, 0, 0, 0], 1.0),  # one run: every neighbour slot of the target is taken by the target
    ([1, 1, 0, 0, 1, 0], 0.0),  # 1 of 2 slots, as expected at random for a 50 % target
    ([1, 0, 1, 0, 1, 0], 0.0),  # worse than random is clipped to 0
    ([1, 1, 0, 0, 0, 0], 1.0),
])
def test_spn_of_an_indicator_follows_drvi(indicator: list[int], expected: float) -> None:
    factors = pd.DataFrame({"process": np.array(indicator, dtype=bool)})
    latent = np.arange(len(indicator), dtype=float)[:, None]
    assert spn_matrix(latent, factors).iloc[0, 0] == pytest.approx(expected)


def test_spn_of_a_continuous_factor_is_one_when_sorted_and_zero_when_shuffled() -> None:
    rng = np.random.default_rng(8)
    factor = rng.normal(size=5_000)
    latent = np.column_stack([np.exp(factor), rng.normal(size=factor.size)])  # monotone, then unrelated
    spn = spn_matrix(latent, pd.DataFrame({"f": factor})).to_numpy().ravel()
    assert spn == pytest.approx([1.0, 0.0], abs=0.03)


def test_spn_ignores_input_order_among_tied_values() -> None:
    # Cells sorted by type and a constant dim: only random tie-breaking keeps SPN at 0.
    factors = pd.DataFrame({"type": pd.Categorical(np.repeat(["x", "y"], 1_000))})
    assert spn_matrix(np.zeros((2_000, 1)), factors).iloc[0, 0] == pytest.approx(0.0, abs=0.05)


def test_unused_categories_do_not_change_drvi_scores() -> None:
    rng = np.random.default_rng(10)
    labels = rng.choice(["x", "y"], 1_000)
    latent = (labels == "x")[:, None] + rng.normal(scale=0.5, size=(1_000, 2))
    observed = pd.DataFrame({"type": pd.Categorical(labels)})
    padded = pd.DataFrame({"type": pd.Categorical(labels, categories=["w", "x", "y", "z"])})
    assert np.array_equal(spn_matrix(latent, padded), spn_matrix(latent, observed))
    assert np.array_equal(smi_matrix(latent, padded), smi_matrix(latent, observed))


def test_smi_is_mutual_information_over_indicator_entropy() -> None:
    rng = np.random.default_rng(9)
    labels = pd.Series(rng.choice(["x", "y", "z"], 4_000))
    latent = np.column_stack([(labels == "x").to_numpy() + 0.0, rng.normal(size=4_000)])
    smi = smi_matrix(latent, pd.get_dummies(labels))
    # Dim 0 separates x from the rest exactly and tells nothing about y versus z.
    assert smi.loc["dim_00", "x"] == pytest.approx(1.0)
    assert smi.loc["dim_01"].to_numpy() == pytest.approx(0.0, abs=0.01)
    assert 0.0 < smi.loc["dim_00", "y"] < 0.5
