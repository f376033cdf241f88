"""The statistics shared by the figures and the claims: mean with a t-based CI, Welch's t-test, Holm.

Every interval in the project is computed here, so that a bar's error bar in a figure and the
CI in `claims.md` are the same numbers.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np
from scipy import stats

CONFIDENCE = 0.95

Direction = Literal["increase", "decrease"]


class MeanCI(NamedTuple):
    """Mean of the finite values, the half-width of its Student-t CI (NaN below 2 values) and their number."""

    mean: float
    half_width: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width


class WelchResult(NamedTuple):
    """Compared − reference difference of means, its two-sided CI, and one-sided p-values both ways."""

    effect: float
    ci_low: float
    ci_high: float
    p_predicted: float
    p_opposite: float


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> MeanCI:
    """Mean and Student-t two-sided `confidence` interval over the finite `values` (NaN ignored)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return MeanCI(np.nan, np.nan, 0)
    if x.size < 2:
        return MeanCI(float(x.mean()), np.nan, 1)
    half = stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return MeanCI(float(x.mean()), float(half), int(x.size))


def welch_test(reference: Sequence[float], compared: Sequence[float], direction: Direction,
               confidence: float = CONFIDENCE) -> WelchResult:
    """Welch's t-test of compared vs reference, one-sided each way, with the effect's Welch CI.

    `p_predicted` tests `compared > reference` for "increase" (`<` for "decrease"); `p_opposite`
    the reverse. NaN p-values and CI when either group has fewer than 2 values or both have zero
    variance (the t statistic is then undefined).
    """
    a, b = np.asarray(reference, dtype=float), np.asarray(compared, dtype=float)
    effect = float(b.mean() - a.mean()) if a.size and b.size else np.nan
    if a.size < 2 or b.size < 2:
        return WelchResult(effect, np.nan, np.nan, np.nan, np.nan)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se2 = va + vb
    if se2 <= 0:
        return WelchResult(effect, np.nan, np.nan, np.nan, np.nan)
    df = se2**2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))  # Welch–Satterthwaite
    se = float(np.sqrt(se2))
    t = effect / se
    p_greater, p_less = float(stats.t.sf(t, df)), float(stats.t.cdf(t, df))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    p_pred, p_opp = (p_greater, p_less) if direction == "increase" else (p_less, p_greater)
    return WelchResult(effect, effect - half, effect + half, p_pred, p_opp)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values; NaN entries stay NaN and do not count as tests."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m = order.size
    # Step-down: the k-th smallest p is multiplied by (m − k); running max keeps the order monotone.
    scaled = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    adjusted[order] = np.minimum(scaled, 1.0)
    return adjusted
