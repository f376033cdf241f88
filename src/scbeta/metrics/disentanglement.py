"""Supervised disentanglement scores of a latent representation against known generative factors.

`latent` is a cells × dims array; `factors` a cells × factors DataFrame whose numeric (non-bool)
columns are continuous and whose category, object, string or bool columns are categorical.
Mutual information is in nats. Metrics that fit predictors draw one random train/test split
(by default 10,000 + 5,000 cells, disentanglement_lib's sizes) from `seed`; the others use all
cells unless `max_cells` asks for a random subsample.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import entropy, kendalltau
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.inspection import permutation_importance
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from scbeta.metrics._common import (
    _latent_mi,
    _prepare,
    _split,
    _standardise,
    _target,
    _top_two,
    entropies,
    factor_codes,
    is_categorical,
)

N_BINS = 20  # disentanglement_lib's histogram discretiser for MIG and modularity
SPLIT_CELLS = 15_000  # disentanglement_lib: num_train=10,000 and num_test=5,000
TEST_FRACTION = 1 / 3

# ------------------------------------------------------------------------------------------
# MIG and modularity


def mig(latent: np.ndarray, factors: pd.DataFrame, *, n_bins: int = N_BINS, max_cells: int | None = None,
        seed: int = 0) -> float:
    """Mutual information gap (Chen et al. 2018), in [0, 1].

    Per factor, the gap in mutual information between the two most informative latent dims,
    divided by the factor's entropy; averaged over factors. As in disentanglement_lib, dims are
    cut into `n_bins` equal-width bins and plug-in estimates are used; unlike it, continuous
    factors are binned the same way (disentanglement_lib's factors are already discrete) and
    all cells are used by default instead of 10,000. MI is a population quantity, so `max_cells`
    may estimate it on a random subsample.
    """
    latent, factors = _prepare(latent, factors, max_cells, seed)
    codes, levels = factor_codes(factors, n_bins)
    best, second = _top_two(_latent_mi(latent, codes, levels, n_bins))
    return float(np.mean((best - second) / entropies(codes, levels)))


def modularity(latent: np.ndarray, factors: pd.DataFrame, *, n_bins: int = N_BINS,
               max_cells: int | None = None, seed: int = 0) -> float:
    """Modularity (Ridgeway & Mozer 2018), in [0, 1]: does each dim inform about one factor only?

    Per dim, 1 − Σ_{other factors} MI² / ((n_factors − 1)·max MI²) over the dims × factors MI matrix
    of `mig`, averaged over dims; a dim with no information scores 0. This is disentanglement_lib's
    formula on unnormalised MI. It ignores how much a dim knows, so a random representation can
    score well above 0; read it beside `explicitness`. With one factor every informative dim is modular.
    """
    latent, factors = _prepare(latent, factors, max_cells, seed)
    codes, levels = factor_codes(factors, n_bins)
    squared = _latent_mi(latent, codes, levels, n_bins) ** 2
    top = squared.max(axis=1)
    if squared.shape[1] == 1:
        return float(np.mean(top > 0))
    # A dim with no information at all gets spread 1, hence modularity 0, as in disentanglement_lib.
    spread = np.divide(squared.sum(axis=1) - top, top * (squared.shape[1] - 1),
                       out=np.ones_like(top), where=top > 0)
    return float(np.mean(1.0 - spread))


# ------------------------------------------------------------------------------------------
# DCI


def _gbt_importance(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                    categorical: bool, seed: int, n_repeats: int, importance_cells: int) -> tuple[np.ndarray, float]:
    """Permutation importance of each dim to a boosted-tree model of one factor, and its test score."""
    model_class = HistGradientBoostingClassifier if categorical else HistGradientBoostingRegressor
    model = model_class(early_stopping=False, random_state=seed).fit(x_train, y_train)
    # Training cells, as for impurity importances: this measures what the fitted model relies on,
    # which spreads evenly over dims when it has overfitted noise instead of scattering at random.
    rows = slice(0, importance_cells)
    reliance = permutation_importance(model, x_train[rows], y_train[rows], n_repeats=n_repeats,
                                      random_state=seed).importances_mean
    return np.clip(reliance, 0.0, None), float(model.score(x_test, y_test))


def _noise_alpha(n_cells: int) -> float:
    """Lasso penalty 4/√n for standardised data: a dim survives only beyond ~4 standard errors of correlation."""
    return 4.0 / np.sqrt(n_cells)


def _lasso_importance(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                      categorical: bool, alpha: float | None) -> tuple[np.ndarray, float]:
    """|coefficients| of a Lasso on standardised dims and target(s) for one factor, and its test score."""
    x_train, x_test = _standardise(x_train, x_test)
    if alpha is None:
        alpha = _noise_alpha(len(x_train))
    if categorical:
        # One Lasso per level on its standardised 0/1 indicator; a dim's importance sums over levels.
        classes = np.unique(y_train)
        members = (y_train[:, None] == classes).astype(np.float64)
        mean, std = members.mean(axis=0), members.std(axis=0)
        model = Lasso(alpha=alpha).fit(x_train, (members - mean) / std)
        outputs = model.predict(x_test).reshape(len(x_test), -1) * std + mean
        coefficients = np.abs(model.coef_).reshape(-1, x_train.shape[1])
        return coefficients.sum(axis=0), float(np.mean(classes[outputs.argmax(axis=1)] == y_test))
    mean, std = y_train.mean(), y_train.std()
    model = Lasso(alpha=alpha).fit(x_train, (y_train - mean) / std)
    return np.abs(model.coef_), float(model.score(x_test, (y_test - mean) / std))


def _dci_importance(latent: np.ndarray, factors: pd.DataFrame, model: str, max_cells: int | None,
                    test_fraction: float, seed: int, alpha: float | None, n_repeats: int,
                    importance_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Importance matrix (dims × factors, each factor's column summing to 1) and per-factor test scores."""
    if model not in ("gbt", "lasso"):
        raise ValueError(f"model must be 'gbt' or 'lasso', got {model!r}")
    x_train, x_test, f_train, f_test = _split(latent, factors, max_cells, test_fraction, seed)
    importance = np.zeros((x_train.shape[1], factors.shape[1]))
    scores = np.zeros(factors.shape[1])
    # Each fit is small (≈10⁴ cells × tens of dims): OpenMP threads buy little and their
    # busy-waiting slows boosting by an order of magnitude when the cores are shared.
    with threadpool_limits(limits=1, user_api="openmp"):
        for j, name in enumerate(factors.columns):
            categorical = is_categorical(factors[name])
            y_train, y_test = _target(f_train, f_test, name)
            if model == "gbt":
                importance[:, j], scores[j] = _gbt_importance(x_train, y_train, x_test, y_test, categorical,
                                                              seed, n_repeats, importance_cells)
            else:
                importance[:, j], scores[j] = _lasso_importance(x_train, y_train, x_test, y_test,
                                                                categorical, alpha)
    totals = importance.sum(axis=0)
    return np.divide(importance, totals, out=np.zeros_like(importance), where=totals > 0), scores


def _one_minus_entropy(weights: np.ndarray, base: int) -> np.ndarray:
    """1 − entropy (log base `base`) of each column's normalised weights; 1 when base is 1."""
    if base == 1:
        return np.ones(weights.shape[1])
    # disentanglement_lib's offset: an all-zero column counts as uniform instead of 0/0.
    return np.clip(1.0 - entropy(weights + 1e-11, base=base, axis=0), 0.0, 1.0)  # clip rounding only


def dci_from_importance(importance: np.ndarray) -> tuple[float, float]:
    """DCI disentanglement and completeness of an importance matrix (dims × factors)."""
    n_dims, n_factors = importance.shape
    per_dim = _one_minus_entropy(importance.T, n_factors)
    total = importance.sum()
    weights = importance.sum(axis=1) / total if total > 0 else np.full(n_dims, 1.0 / n_dims)
    per_factor = _one_minus_entropy(importance, n_dims)
    return float(per_dim @ weights), float(per_factor.mean())


def dci(latent: np.ndarray, factors: pd.DataFrame, model: Literal["gbt", "lasso"] = "gbt", *,
        max_cells: int | None = SPLIT_CELLS, test_fraction: float = TEST_FRACTION, seed: int = 0,
        alpha: float | None = None, n_repeats: int = 3, importance_cells: int = 2_000) -> dict[str, float]:
    """DCI (Eastwood & Williams 2018): keys `disentanglement`, `completeness`, `informativeness`, in [0, 1].

    One model per factor predicts it from all dims, giving an importance matrix R (dims × factors)
    whose columns are scaled to sum to 1. Disentanglement is the mean over dims of
    1 − H_{n_factors}(R_i·/Σ R_i·) weighted by each dim's share of Σ R; completeness the mean over
    factors of 1 − H_{n_dims}(R_·j); informativeness the mean held-out accuracy (categorical) or
    R² (continuous; may be negative) on a random train/test split of at most `max_cells` cells.

    Same as disentanglement_lib: gradient-boosted trees, the entropy formulas and weights, the 1e-11
    offset and the 10,000/5,000 split. Different: `"gbt"` uses scikit-learn's histogram boosting
    (100 iterations, otherwise defaults) with a regressor for continuous factors, and its importance
    is the mean drop in training score when a dim is permuted (`n_repeats` times, on
    `importance_cells` training cells) instead of impurity importance, which histogram boosting does
    not expose; this keeps a many-level factor to seconds where exact boosting takes tens of
    seconds, one tree per level and stage. `"lasso"` (Eastwood & Williams' linear
    option) uses |coefficients| of a Lasso on standardised dims and a standardised factor, or one
    Lasso per standardised level indicator of a categorical factor (importances summed over levels,
    prediction by the largest output). Its penalty `alpha` defaults to 4/√n_train, so a dim's
    coefficient survives only if its correlation with the residual exceeds about four standard
    errors: sampling noise in unrelated dims does not pass for structure.
    """
    importance, scores = _dci_importance(latent, factors, model, max_cells, test_fraction, seed, alpha,
                                         n_repeats, importance_cells)
    disentanglement, completeness = dci_from_importance(importance)
    return {"disentanglement": disentanglement, "completeness": completeness,
            "informativeness": float(scores.mean())}


# ------------------------------------------------------------------------------------------
# SAP


def _adjusted_balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Chance-corrected balanced accuracy of each column of `predicted` (cells × dims): 0 chance, 1 perfect."""
    classes, inverse, counts = np.unique(truth, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        return np.zeros(predicted.shape[1])
    correct = (predicted == truth[:, None]).astype(np.float64)
    recall = np.eye(len(classes))[inverse].T @ correct / counts[:, None]
    chance = 1.0 / len(classes)
    return (recall.mean(axis=0) - chance) / (1.0 - chance)


def _single_dim_classification(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                               y_test: np.ndarray) -> np.ndarray:
    """Held-out adjusted balanced accuracy of a nearest-class-mean rule on each dim alone."""
    classes, inverse = np.unique(y_train, return_inverse=True)
    members = np.eye(len(classes))[inverse]
    means = members.T @ x_train / members.sum(axis=0)[:, None]  # classes × dims
    nearest = np.abs(x_test[:, :, None] - means.T[None, :, :]).argmin(axis=2)
    return _adjusted_balanced_accuracy(y_test, classes[nearest])


def sap(latent: np.ndarray, factors: pd.DataFrame, *, max_cells: int | None = SPLIT_CELLS,
        test_fraction: float = TEST_FRACTION, seed: int = 0) -> float:
    """Separated attribute predictability (Kumar et al. 2018), in [0, 1].

    Per factor, each dim alone predicts it; SAP is the mean over factors of the gap between the
    two best dims' scores. Continuous factors: R² of a 1-D linear regression, i.e. the squared
    correlation, on the training cells (as disentanglement_lib). Categorical factors: held-out
    balanced accuracy of a 1-D linear classifier, chance-corrected so that, like R², 0 is chance
    and 1 perfect. The classifier is nearest class mean with equal class priors (1-D linear
    discriminant analysis with balanced priors, closed form) instead of disentanglement_lib's
    LinearSVC(C=0.01, class_weight="balanced") scored by plain accuracy. Cells are a random split of
    at most `max_cells`.
    """
    x_train, x_test, f_train, f_test = _split(latent, factors, max_cells, test_fraction, seed)
    z_train = _standardise(x_train, x_train)[0]
    scores = np.zeros((x_train.shape[1], factors.shape[1]))
    for j, name in enumerate(factors.columns):
        y_train, y_test = _target(f_train, f_test, name)
        if is_categorical(factors[name]):
            scores[:, j] = _single_dim_classification(x_train, y_train, x_test, y_test)
        else:
            scores[:, j] = (z_train.T @ _standardise(y_train, y_train)[0] / len(y_train)) ** 2
    best, second = _top_two(scores)
    return float(np.mean(best - second))


# ------------------------------------------------------------------------------------------
# Explicitness


def _one_vs_rest_auc(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> float:
    """Macro one-vs-rest ROC AUC of a logistic regression on all dims, over levels seen in both splits."""
    model = LogisticRegression(max_iter=1_000).fit(x_train, y_train)
    members = y_test[:, None] == model.classes_
    scorable = members.any(axis=0) & ~members.all(axis=0)
    return float(roc_auc_score(members[:, scorable], model.predict_proba(x_test)[:, scorable], average="macro"))


def _concordance(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> float:
    """(1 + Kendall τ_b)/2 of a linear regression's held-out predictions against the factor."""
    predicted = LinearRegression().fit(x_train, y_train).predict(x_test)
    tau = kendalltau(predicted, y_test).statistic
    return 0.5 if np.isnan(tau) else float((1.0 + tau) / 2.0)


def explicitness(latent: np.ndarray, factors: pd.DataFrame, *, max_cells: int | None = SPLIT_CELLS,
                 test_fraction: float = TEST_FRACTION, seed: int = 0) -> float:
    """Explicitness (Ridgeway & Mozer 2018), in [0, 1] with 0.5 at chance: how linearly decodable is each factor?

    Categorical factors: held-out macro one-vs-rest ROC AUC of a logistic regression (C=1) on all
    standardised dims, as disentanglement_lib. Continuous factors, which it does not cover: the
    concordance index of a linear regression's held-out predictions, (1 + Kendall τ_b)/2 — the
    probability that two cells are ordered correctly, which is what ROC AUC is for a binary factor —
    so both kinds share the scale and chance level. Mean over factors, on a random split of at most
    `max_cells` cells.
    """
    x_train, x_test, f_train, f_test = _split(latent, factors, max_cells, test_fraction, seed)
    x_train, x_test = _standardise(x_train, x_test)
    scores = []
    for name in factors.columns:
        y_train, y_test = _target(f_train, f_test, name)
        score = _one_vs_rest_auc if is_categorical(factors[name]) else _concordance
        scores.append(score(x_train, y_train, x_test, y_test))
    return float(np.mean(scores))
