"""The decision rule: from a comparison's tested levels to its verdict, and from verdicts to a claim's.

Three rules live here, each once: `verdict` (significance in either direction, after Holm),
`decide` (the verdict with and without the levels whose models collapsed) and `stability` (how
often subsets of the seeds reach the same verdict). `decision_rule` prints them for `claims.md`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations
from typing import NamedTuple

import numpy as np

from scbeta.metrics.activity import MIN_ACTIVE_UNITS
from scbeta.stats import holm

ALPHA = 0.05
MIN_SEEDS = 3
# Stability: verdicts are recomputed on subsets of this many seeds, all of them or at most MAX_SUBSETS drawn.
SUBSET_SEEDS = 3
MAX_SUBSETS = 200
SUBSET_DRAW_SEED = 0

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive (too few seeds)"
NOT_EVALUATED = "not evaluated"

TEST = "Welch's t-test, one-sided in the predicted direction; Holm-Bonferroni across compared levels"

# How collapsed levels bear on a verdict (`Decision.collapse`).
NO_COLLAPSE = ""
STANDS = "stands without collapsed levels"
DEPENDS = "depends on collapsed models"


class Decision(NamedTuple):
    """A comparison's verdict over all its levels; the verdict without its collapsed levels ("" when none
    collapsed); and how the two relate: `NO_COLLAPSE`, `STANDS` or `DEPENDS`."""

    verdict: str
    without_collapsed: str
    collapse: str


def decision_rule(alpha: float = ALPHA, min_seeds: int = MIN_SEEDS) -> list[str]:
    """The decision rule for one comparison, as the numbered Markdown list `claims.md` prints."""
    return [f"1. **{INCONCLUSIVE}** if the reference or any compared level has fewer than {min_seeds} seeds;",
            f"2. else **{NOT_REPRODUCED}** if any compared level differs significantly (Holm-adjusted p < α = "
            f"{alpha:g}) in the direction opposite to the prediction;",
            f"3. else **{REPRODUCED}** if at least one compared level differs significantly in the predicted "
            "direction;",
            f"4. else **{NOT_REPRODUCED}**.",
            "",
            f"A comparison without the data it needs is **{NOT_EVALUATED}**, with the reason. A claim is "
            f"{REPRODUCED} if all its evaluated comparisons are, {NOT_REPRODUCED} if any is, else {INCONCLUSIVE}.",
            "",
            f"**Collapsed levels.** A level is collapsed where any of its models has fewer than {MIN_ACTIVE_UNITS} "
            "active latent dimensions (the posterior equals the prior for almost every dimension): its alignment "
            "is not interpretable, since a dimension whose signal is a tiny share of the prior's spread can still "
            "correlate with a factor. Each verdict is therefore decided twice, with all compared levels and again "
            "without the collapsed ones (and without levels whose reference is collapsed), Holm's correction "
            f"redone over the levels left. The verdict is the first; it **{DEPENDS}** when the second differs, "
            "else it *stands without* them, and the collapsed levels set aside are named.",
            "",
            f"**Stability.** With more than {SUBSET_SEEDS} seeds, every verdict is decided again on each subset of "
            f"{SUBSET_SEEDS} seeds (all subsets, or {MAX_SUBSETS} drawn at random where there are more), as "
            f"separate {SUBSET_SEEDS}-seed studies would decide it; the share of subsets reaching the same "
            f"verdict is its stability. With {SUBSET_SEEDS} seeds or fewer it cannot be assessed."]


def verdict(n_reference: Sequence[int], n_compared: Sequence[int], p_predicted: Sequence[float],
            p_opposite: Sequence[float], alpha: float = ALPHA, min_seeds: int = MIN_SEEDS) -> str:
    """The verdict of one comparison under `decision_rule`, from its tested levels.

    One entry per compared level: seeds at the reference, seeds at the level, and the
    Holm-adjusted one-sided p-values in the predicted and the opposite direction (NaN: untested,
    never significant).
    """
    n_ref, n_cmp = np.asarray(n_reference, dtype=int), np.asarray(n_compared, dtype=int)
    p_pred, p_opp = np.asarray(p_predicted, dtype=float), np.asarray(p_opposite, dtype=float)
    if not (n_ref.size == n_cmp.size == p_pred.size == p_opp.size):
        raise ValueError("verdict needs one seed count and p-value per compared level in every argument")
    if n_ref.size == 0:
        return f"{NOT_EVALUATED}: nothing to compare"
    if (n_ref < min_seeds).any() or (n_cmp < min_seeds).any():
        return INCONCLUSIVE
    if (p_opp < alpha).any():  # NaN compares False: untested is never significant
        return NOT_REPRODUCED
    if (p_pred < alpha).any():
        return REPRODUCED
    return NOT_REPRODUCED


def decide(n_reference: Sequence[int], n_compared: Sequence[int], p_predicted: Sequence[float],
           p_opposite: Sequence[float], collapsed: Sequence[bool], alpha: float = ALPHA,
           min_seeds: int = MIN_SEEDS) -> Decision:
    """`verdict` over all tested levels and over those not `collapsed`, Holm applied to each family.

    One entry per tested level: seeds at the reference and at the level, the raw one-sided
    p-values both ways, and whether the level or its reference has a collapsed model.
    """
    n_ref, n_cmp = np.asarray(n_reference, dtype=int), np.asarray(n_compared, dtype=int)
    p_pred, p_opp = np.asarray(p_predicted, dtype=float), np.asarray(p_opposite, dtype=float)
    out = np.asarray(collapsed, dtype=bool)
    if out.size != n_ref.size:
        raise ValueError("decide needs one collapsed flag per compared level")

    def decided(keep: np.ndarray) -> str:
        return verdict(n_ref[keep], n_cmp[keep], holm(p_pred[keep]), holm(p_opp[keep]), alpha, min_seeds)

    everything = decided(np.ones(out.size, dtype=bool))
    if not out.any():
        return Decision(everything, "", NO_COLLAPSE)
    without = decided(~out) if (~out).any() else f"{NOT_EVALUATED}: every compared level is collapsed"
    return Decision(everything, without, STANDS if without == everything else DEPENDS)


def claim_verdict(verdicts: Sequence[str]) -> str:
    """A claim's verdict from its comparisons': all evaluated reproduced → reproduced; any not → not."""
    evaluated = [v for v in verdicts if not v.startswith(NOT_EVALUATED)]
    if not evaluated:
        reasons = list(dict.fromkeys(v.split(": ", 1)[-1] for v in verdicts))
        return f"{NOT_EVALUATED}: {'; '.join(reasons)}" if reasons else f"{NOT_EVALUATED}: no comparisons"
    if NOT_REPRODUCED in evaluated:
        return NOT_REPRODUCED
    if INCONCLUSIVE in evaluated:
        return INCONCLUSIVE
    return REPRODUCED


def seed_subsets(seeds: Sequence[int], size: int = SUBSET_SEEDS, limit: int = MAX_SUBSETS,
                 seed: int = SUBSET_DRAW_SEED) -> list[tuple[int, ...]]:
    """The seed subsets a verdict's stability is judged on: every `size`-subset of `seeds`, or `limit` distinct
    ones drawn with `seed` where there are more. Empty with `size` seeds or fewer (nothing to assess)."""
    seeds = sorted(set(int(s) for s in seeds))
    if len(seeds) <= size:
        return []
    if math.comb(len(seeds), size) <= limit:
        return list(combinations(seeds, size))
    rng = np.random.default_rng(seed)
    drawn: set[tuple[int, ...]] = set()
    while len(drawn) < limit:
        drawn.add(tuple(sorted(int(s) for s in rng.choice(seeds, size=size, replace=False))))
    return sorted(drawn)


def stability(full: str, subset_verdicts: Sequence[str]) -> float:
    """The share of `subset_verdicts` equal to the verdict `full` of all seeds (NaN without subsets)."""
    if not len(subset_verdicts):
        return float("nan")
    return float(np.mean([v == full for v in subset_verdicts]))


def stability_text(share: float, n_subsets: int, n_seeds: int) -> str:
    """"4 of 4 subsets of 3 seeds (100 %)" style wording of `stability`, or why it cannot be assessed."""
    if n_subsets == 0 or not np.isfinite(share):
        return f"cannot be assessed with {n_seeds} seeds (needs more than {SUBSET_SEEDS})"
    same = int(round(share * n_subsets))
    return f"{same} of {n_subsets} subsets of {SUBSET_SEEDS} seeds agree ({share:.0%})".replace("%", " %")
