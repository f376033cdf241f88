"""The statistics shared by the figures and the claims: mean with a t-based CI, Welch's t-test, Holm.

Every interval in the project is computed here, so that a bar's error bar in a figure and the
CI in `claims.md` are the same numbers. A metric bounded on both sides (|r|, ARI, AUROC, AP, a
balanced accuracy) gets its interval on the logit scale of its range and mapped back
(`bounded_interval`), so that the interval never leaves the range, however few the seeds.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

import numpy as np
from scipy import stats

CONFIDENCE = 0.95

Direction = Literal["increase", "decrease"]


# Values closer than this to a bound (as a share of the range) are moved to it before the logit.
_LOGIT_MARGIN = 1e-4


class MeanCI(NamedTuple):
    """Mean of the finite values, the ends of its two-sided CI (NaN below 2 values) and their number."""

    mean: float
    low: float
    high: float
    n: int


class WelchResult(NamedTuple):
    """Compared − reference difference of means, its two-sided CI, and one-sided p-values both ways."""

    effect: float
    ci_low: float
    ci_high: float
    p_predicted: float
    p_opposite: float


def _t_interval(x: np.ndarray, confidence: float) -> tuple[float, float]:
    half = stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean() - half), float(x.mean() + half)


def bounded_interval(x: np.ndarray, bounds: tuple[float, float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t interval of `x` (at least 2 values within `bounds`) on a scale that maps `bounds` to the whole
    line, mapped back, so both ends lie within `bounds`.

    Both bounds finite: the logit of the values rescaled to [0, 1]. One bound finite (a metric such
    as DCI informativeness, at most 1): the log of the distance to it. Values are held a small share
    of the spread (`_LOGIT_MARGIN`) inside a bound before the transform.
    """
    lo, hi = bounds
    if np.isfinite(lo) and np.isfinite(hi):
        share = np.clip((x - lo) / (hi - lo), _LOGIT_MARGIN, 1 - _LOGIT_MARGIN)
        ends = 1 / (1 + np.exp(-np.asarray(_t_interval(np.log(share / (1 - share)), confidence))))
        return float(lo + ends[0] * (hi - lo)), float(lo + ends[1] * (hi - lo))
    if not (np.isfinite(lo) or np.isfinite(hi)):
        return _t_interval(x, confidence)
    bound, sign = (lo, 1.0) if np.isfinite(lo) else (hi, -1.0)
    distance = sign * (x - bound)
    margin = _LOGIT_MARGIN * max(float(np.ptp(distance)), float(np.abs(distance).max()), 1e-12)
    ends = np.exp(np.asarray(_t_interval(np.log(np.maximum(distance, margin)), confidence)))
    low, high = sorted(bound + sign * ends)
    return float(low), float(high)


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE,
            bounds: tuple[float, float] | None = None) -> MeanCI:
    """Mean and two-sided `confidence` interval over the finite `values` (NaN ignored).

    Without `bounds` the Student-t interval; with `bounds` (low, high; one may be infinite), such as
    a metric's range (`scbeta.registry.MetricInfo.range`), the interval of `bounded_interval`,
    which stays within them.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return MeanCI(np.nan, np.nan, np.nan, 0)
    if x.size < 2:
        return MeanCI(float(x.mean()), np.nan, np.nan, 1)
    low, high = bounded_interval(x, bounds, confidence) if bounds is not None else _t_interval(x, confidence)
    return MeanCI(float(x.mean()), low, high, int(x.size))


def metric_bounds(metric: str) -> tuple[float, float] | None:
    """The range of a registered metric where at least one end is finite (its interval then stays inside), else
    None."""
    from scbeta.registry import METRICS

    info = METRICS.get(metric)
    if info is None or not np.isfinite(info.range).any():
        return None
    return info.range


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
