"""The preprint's three claims, tested against this reproduction's metric tables.

Kimmel (2020) claims that disentangling objectives (larger β, capacity C_max > 0)

1. align latent dimensions better with the generative factors of simulated data,
2. align them better with the stimulation and with cell identity on the Kang et al. (2018) PBMCs,
3. but make cell-type clustering of the latent space worse.

Each claim is split into comparisons (`COMPARISONS`). A comparison reduces every trained model
(one per seed) to one number, then compares the models at each level (β, or C_max) with those at
the reference level (β = 1, or C_max = 0 at the same β):

- per level: mean across seeds with a t-based 95 % confidence interval;
- effect: difference of means (compared − reference) with a two-sided 95 % Welch–Satterthwaite CI;
- test: Welch's unequal-variance t-test, one-sided in the predicted direction. Seeds are
  independent replicate trainings (independent samples), there are few of them, and the spread
  across seeds differs between levels (Fig. 3B has far wider intervals at β ≤ 1.5), so the
  pooled-variance t-test does not fit. A permutation test would need no normality, but with
  3 vs 3 seeds its smallest one-sided p-value is 1/20 = 0.05: it could never reject after
  correction.
- correction: Holm–Bonferroni over all compared levels of a comparison (family-wise error ≤ α,
  valid under any dependence — the tests share the reference models — and never less powerful
  than Bonferroni). The opposite direction is tested and corrected the same way.

Decision rule (`verdict`), per comparison, with α = 0.05 and at least 3 seeds:

- "inconclusive (too few seeds)" if the reference level or any compared level has fewer than
  3 seeds with a finite value;
- otherwise "not reproduced" if any compared level differs significantly (Holm-adjusted p < α)
  in the direction opposite to the prediction;
- otherwise "reproduced" if at least one compared level differs significantly in the predicted
  direction;
- otherwise "not reproduced".

A comparison whose data are missing is "not evaluated: <reason>". A claim is reproduced if all
its evaluated comparisons are; not reproduced if any is not; else inconclusive (`claim_verdict`).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05
MIN_SEEDS = 3
CONFIDENCE = 0.95
STIM_FACTOR = "stim_indicator"

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive (too few seeds)"
NOT_EVALUATED = "not evaluated"

TEST = "Welch's t-test, one-sided in the predicted direction; Holm-Bonferroni across compared levels"

Direction = Literal["increase", "decrease"]
Role = Literal["simulated", "real"]
Level = Literal["beta", "c_max"]
Runs = Literal["beta", "capacity", "both"]

CLAIMS: dict[int, str] = {
    1: "On simulated data, latent dimensions correspond more directly to the generative factors "
       "under the disentangling objectives.",
    2: "On the Kang et al. 2018 PBMCs, latent dimensions correspond better to the experimental factor "
       "(stimulation) and to cell identity programs ...",
    3: "... but cell-type clustering of the latent space gets worse.",
}

# Values read off the preprint's figures by eye (Kimmel 2020): (low, high) per β; a single
# value has low == high. Figure 2C gives a range over the six factors, so a per-run mean over
# factors should fall in it too.
_FIG2C_CMAX0 = {1.0: (0.40, 0.50), 10.0: (0.50, 0.65), 30.0: (0.50, 0.65), 50.0: (0.50, 0.65)}
_FIG3B = {1.0: (0.819, 0.819), 1.5: (0.826, 0.826), 2.0: (0.844, 0.844), 3.0: (0.844, 0.844),
          4.0: (0.844, 0.844), 5.0: (0.844, 0.844)}
_FIG3C = {1.0: (0.70, 0.70), 1.5: (0.55, 0.55), 2.0: (0.50, 0.50), 3.0: (0.43, 0.43),
          4.0: (0.44, 0.44), 5.0: (0.46, 0.46)}


@dataclass(frozen=True)
class Comparison:
    """One testable part of a claim: a per-run value, which runs, what varies and what is predicted."""

    claim: int
    key: str
    description: str
    role: Role  # which dataset: the simulated one or the real one
    metric: str  # `metric` rows used
    factor: str | None  # only rows of this factor; None: the mean over all of the metric's rows of a run
    value: str  # what one run's value is, for the report
    runs: Runs  # "beta": β-VAE (C_max = 0); "capacity": C_max > 0; "both"
    level: Level  # the parameter that varies; the other one is held fixed
    direction: Direction  # predicted change from the reference level
    preprint: Mapping[float, tuple[float, float]] = field(default_factory=dict)  # by β
    preprint_note: str = ""

    @property
    def reference(self) -> float:
        """The level compared against: β = 1 (scVI's ELBO), or C_max = 0 (no capacity)."""
        return 1.0 if self.level == "beta" else 0.0

    @property
    def stratum(self) -> Level:
        """The parameter held fixed within a comparison."""
        return "c_max" if self.level == "beta" else "beta"


_FACTOR_CORR = "mean over factors of max |corr(factor, latent dim)|"
COMPARISONS: tuple[Comparison, ...] = (
    Comparison(1, "1a", "Alignment with the simulated factors rises with β (β-VAE, C_max = 0)", "simulated",
               "max_abs_corr", None, _FACTOR_CORR, "beta", "beta", "increase", _FIG2C_CMAX0,
               "Fig. 2C, C_max = 0 panel: range over the six factors."),
    Comparison(1, "1b", "Alignment with the simulated factors rises with β (capacity, C_max > 0)", "simulated",
               "max_abs_corr", None, _FACTOR_CORR, "capacity", "beta", "increase", {},
               "Fig. 2C, C_max = 10 panel: the differences across β shrink; no values read off."),
    Comparison(1, "1c", "Alignment with the simulated factors rises with C_max (same β)", "simulated",
               "max_abs_corr", None, _FACTOR_CORR, "both", "c_max", "increase", {},
               "Fig. 2C compares the C_max = 0 and C_max = 10 panels; no differences read off."),
    Comparison(2, "2a", "Alignment with stimulation rises with β", "real", "max_abs_corr", STIM_FACTOR,
               "max |corr(stimulation indicator, latent dim)|", "beta", "beta", "increase", _FIG3B,
               "Fig. 3B (β = 1 and 1.5 with wide intervals)."),
    Comparison(2, "2b", "Alignment with cell identity rises with β", "real", "identity_accuracy", None,
               "mean over cell types of the balanced accuracy of the best single latent dim", "beta", "beta",
               "increase", {}, "Fig. 3D: accuracy axis 0.75–1.0; no values read off."),
    Comparison(3, "3", "Cell-type clustering (ARI) falls with β", "real", "best_ari", None,
               "best ARI of latent-space clusters vs cell types", "beta", "beta", "decrease", _FIG3C,
               "Fig. 3C."),
)

COLUMNS = ["claim", "comparison", "description", "dataset", "value", "direction", "level", "beta", "c_max",
           "reference", "n_seeds", "mean", "ci_low", "ci_high", "preprint_low", "preprint_high", "effect",
           "effect_ci_low", "effect_ci_high", "p_value", "p_holm", "p_opposite_holm", "significant", "test",
           "verdict", "claim_verdict"]
_METRIC_COLUMNS = ["method", "objective", "beta", "c_max", "seed", "run", "metric", "factor", "value"]
_RUNS_LABEL = {"beta": "β-VAE (objective 'beta', C_max = 0)", "capacity": "capacity (C_max > 0)",
               "both": "β-VAE or capacity"}
_LEVEL_LABEL = {"beta": "β", "c_max": "C_max"}


class WelchResult(NamedTuple):
    """Compared − reference difference of means, its two-sided CI, and one-sided p-values both ways."""

    effect: float
    ci_low: float
    ci_high: float
    p_predicted: float
    p_opposite: float


class _NotEvaluated(Exception):
    """A comparison cannot be made from the data given; the message is the reason."""


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean and t-based two-sided confidence interval across seeds (NaN bounds below 2 values)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return np.nan, np.nan, np.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, np.nan, np.nan
    half = stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return mean, float(mean - half), float(mean + half)


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


def verdict(n_reference: Sequence[int], n_compared: Sequence[int], p_predicted: Sequence[float],
            p_opposite: Sequence[float], alpha: float = ALPHA, min_seeds: int = MIN_SEEDS) -> str:
    """The decision rule for one comparison, from its tested levels.

    One entry per compared level: seeds at the reference, seeds at the level, and the
    Holm-adjusted one-sided p-values in the predicted and the opposite direction (NaN: untested,
    never significant). Returns "inconclusive (too few seeds)" if any level or its reference has
    fewer than `min_seeds` seeds; else "not reproduced" if any opposite p < `alpha`; else
    "reproduced" if any predicted p < `alpha`; else "not reproduced".
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


def run_values(table: pd.DataFrame | None, comparison: Comparison) -> pd.DataFrame:
    """One finite value per run for `comparison`: columns `beta`, `c_max`, `seed`, `run`, `value`.

    Only VAE runs of the comparison's objectives; baselines are ignored. Raises `_NotEvaluated`
    (message: the reason) when the dataset, the runs or the metric rows are missing.
    """
    if table is None:
        raise _NotEvaluated(f"no {comparison.role} dataset")
    missing = [c for c in _METRIC_COLUMNS if c not in table.columns]
    if missing:
        raise _NotEvaluated(f"the {comparison.role} metric table lacks columns {', '.join(missing)}")
    vae = table[table["method"] == "vae"].assign(c_max=lambda t: t["c_max"].fillna(0.0))
    beta_vae = (vae["objective"] == "beta") & (vae["c_max"] == 0)
    capacity = (vae["objective"] == "capacity") & (vae["c_max"] > 0)
    keep = {"beta": beta_vae, "capacity": capacity, "both": beta_vae | capacity}[comparison.runs]
    runs = vae[keep]
    if runs.empty:
        raise _NotEvaluated(f"no {_RUNS_LABEL[comparison.runs]} runs in the {comparison.role} dataset")
    rows = runs[runs["metric"] == comparison.metric]
    if comparison.factor is not None:
        rows = rows[rows["factor"] == comparison.factor]
    rows = rows[np.isfinite(pd.to_numeric(rows["value"], errors="coerce"))]
    if rows.empty:
        what = f"`{comparison.metric}`" + (f" of `{comparison.factor}`" if comparison.factor else "")
        raise _NotEvaluated(f"no finite {what} values in the {comparison.role} dataset")
    return (rows.astype({"value": float})
            .groupby(["beta", "c_max", "seed", "run"], as_index=False)["value"].mean())


def _preprint(comparison: Comparison, beta: float, c_max: float) -> tuple[float, float]:
    """The preprint's read-off (low, high) at this β, or NaNs where it shows none."""
    if c_max != 0 or comparison.runs == "both":
        return np.nan, np.nan
    return next((v for b, v in comparison.preprint.items() if np.isclose(b, beta)), (np.nan, np.nan))


def _not_evaluated(comparison: Comparison, dataset: str, reason: str) -> pd.DataFrame:
    row = {"claim": comparison.claim, "comparison": comparison.key, "description": comparison.description,
           "dataset": dataset, "value": comparison.value, "direction": comparison.direction,
           "level": comparison.level, "test": TEST, "verdict": f"{NOT_EVALUATED}: {reason}"}
    return pd.DataFrame([row]).reindex(columns=COLUMNS)


def _level_rows(values: pd.DataFrame, comparison: Comparison) -> pd.DataFrame:
    """One row per (stratum, level) with seeds, mean, CI and — for levels above the reference — the test."""
    level, stratum = comparison.level, comparison.stratum
    records = []
    for (held, varied), group in values.groupby([stratum, level], sort=True):
        ref = values.loc[(values[stratum] == held) & np.isclose(values[level], comparison.reference), "value"]
        beta, c_max = (varied, held) if level == "beta" else (held, varied)
        mean, lo, hi = mean_ci(group["value"])
        is_ref = bool(np.isclose(varied, comparison.reference))
        tested = varied > comparison.reference and not is_ref and len(ref) > 0
        test = welch_test(ref, group["value"], comparison.direction) if tested else None
        pre_lo, pre_hi = _preprint(comparison, beta, c_max)
        records.append({"beta": beta, "c_max": c_max, "reference": is_ref, "n_seeds": len(group),
                        "n_reference": len(ref), "tested": tested, "mean": mean, "ci_low": lo, "ci_high": hi,
                        "preprint_low": pre_lo, "preprint_high": pre_hi,
                        "effect": test.effect if test else np.nan,
                        "effect_ci_low": test.ci_low if test else np.nan,
                        "effect_ci_high": test.ci_high if test else np.nan,
                        "p_value": test.p_predicted if test else np.nan,
                        "p_opposite": test.p_opposite if test else np.nan})
    return pd.DataFrame(records)


def _untested_reason(values: pd.DataFrame, comparison: Comparison) -> str:
    name, ref = _LEVEL_LABEL[comparison.level], comparison.reference
    if not np.isclose(values[comparison.level], ref).any():
        return f"no runs at the reference {name} = {ref:g}"
    if not (values[comparison.level] > ref).any():
        return f"no runs at {name} > {ref:g}"
    return f"no runs at {name} > {ref:g} share a {_LEVEL_LABEL[comparison.stratum]} with the reference"


def evaluate_comparison(table: pd.DataFrame | None, comparison: Comparison, alpha: float = ALPHA,
                        min_seeds: int = MIN_SEEDS) -> pd.DataFrame:
    """Rows (`COLUMNS`, without `claim_verdict`) of one comparison: one per level, or one if not evaluated."""
    dataset = ", ".join(map(str, table["dataset"].dropna().unique())) if (
        table is not None and "dataset" in table.columns) else ""
    try:
        values = run_values(table, comparison)
    except _NotEvaluated as reason:
        return _not_evaluated(comparison, dataset, str(reason))
    rows = _level_rows(values, comparison)
    tested = rows["tested"].to_numpy()
    if not tested.any():
        return _not_evaluated(comparison, dataset, _untested_reason(values, comparison))
    rows["p_holm"] = np.where(tested, holm(rows["p_value"].where(tested)), np.nan)
    rows["p_opposite_holm"] = np.where(tested, holm(rows["p_opposite"].where(tested)), np.nan)
    rows["significant"] = (rows["p_holm"] < alpha).where(tested)
    decided = rows[tested]
    rows["verdict"] = verdict(decided["n_reference"], decided["n_seeds"], decided["p_holm"],
                              decided["p_opposite_holm"], alpha=alpha, min_seeds=min_seeds)
    return rows.assign(claim=comparison.claim, comparison=comparison.key, description=comparison.description,
                       dataset=dataset, value=comparison.value, direction=comparison.direction,
                       level=comparison.level, test=TEST).reindex(columns=COLUMNS)


def evaluate_claims(simulated: pd.DataFrame | None, real: pd.DataFrame | None, *, alpha: float = ALPHA,
                    min_seeds: int = MIN_SEEDS) -> pd.DataFrame:
    """Every comparison of every claim, one row per claim × comparison × level (β, C_max).

    `simulated` and `real` are the long metric tables of the two datasets (`results/<dataset>/
    metrics/all.tsv`), or None when a dataset was not analysed. Columns (`COLUMNS`): our mean and
    CI across seeds, the preprint's read-off range, the effect vs the reference with its CI, the
    raw and Holm-adjusted one-sided p-values, and the comparison's and claim's verdicts (see the
    module docstring for the rule).
    """
    tables = {"simulated": simulated, "real": real}
    parts = [evaluate_comparison(tables[c.role], c, alpha, min_seeds) for c in COMPARISONS]
    # Not-evaluated rows carry NaNs: nullable dtypes keep counts integral and flags boolean.
    result = pd.concat(parts, ignore_index=True).astype(
        {"claim": int, "n_seeds": "Int64", "reference": "boolean", "significant": "boolean"})
    per_comparison = result.groupby("comparison", sort=False)["verdict"].first()
    claim_of = result.groupby("comparison", sort=False)["claim"].first()
    by_claim = {claim: claim_verdict(per_comparison[claim_of == claim].tolist()) for claim in CLAIMS}
    result["claim_verdict"] = result["claim"].map(by_claim)
    return result


def _num(x: float, signed: bool = False) -> str:
    if pd.isna(x):
        return "–"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def _with_ci(mean: float, lo: float, hi: float, signed: bool = False) -> str:
    if pd.isna(mean):
        return "–"
    if pd.isna(lo):
        return _num(mean, signed)
    return f"{_num(mean, signed)} [{_num(lo, signed)}, {_num(hi, signed)}]"


def _p(p: float) -> str:
    if pd.isna(p):
        return "–"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _read_off(x: float) -> str:
    """A read-off value with the digits it was read with (0.70, 0.819), not padded to three."""
    text = f"{x:.3f}"
    return text[:-1] if text.endswith("0") else text


def _range(lo: float, hi: float) -> str:
    if pd.isna(lo):
        return "–"
    return _read_off(lo) if lo == hi else f"{_read_off(lo)}–{_read_off(hi)}"


def _comparison_markdown(rows: pd.DataFrame, comparison: Comparison, alpha: float) -> list[str]:
    verdict_text = rows["verdict"].iloc[0]
    dataset = rows["dataset"].iloc[0]
    lines = [f"### {comparison.key}. {comparison.description}", "",
             (f"Dataset `{dataset}`. " if isinstance(dataset, str) and dataset else "")
             + f"Runs: {_RUNS_LABEL[comparison.runs]}. Per run: {comparison.value}. "
             f"Predicted: {comparison.direction} "
             f"from {_LEVEL_LABEL[comparison.level]} = {comparison.reference:g}.", ""]
    if verdict_text.startswith(NOT_EVALUATED):
        return [*lines, f"**Verdict: {verdict_text}**", ""]
    ref = "β = 1" if comparison.level == "beta" else "C_max = 0, same β"
    # Significant (Holm-adjusted) p-values in bold, so the verdict can be traced to its rows.
    lines += [f"| β | C_max | seeds | ours: mean [95 % CI] | preprint | effect vs {ref} [95 % CI] "
              "| p (one-sided) | p (Holm) | p opposite (Holm) |",
              "|---:|---:|---:|---|---|---|---:|---:|---:|"]
    for row in rows.itertuples():
        p_holm, p_opposite = (f"**{_p(p)}**" if p < alpha else _p(p) for p in (row.p_holm, row.p_opposite_holm))
        lines.append(f"| {row.beta:g} | {row.c_max:g} | {int(row.n_seeds)} "
                     f"| {_with_ci(row.mean, row.ci_low, row.ci_high)} | {_range(row.preprint_low, row.preprint_high)} "
                     f"| {_with_ci(row.effect, row.effect_ci_low, row.effect_ci_high, signed=True)} "
                     f"| {_p(row.p_value)} | {p_holm} | {p_opposite} |")
    if comparison.preprint_note:
        lines += ["", f"Preprint: {comparison.preprint_note}"]
    return [*lines, "", f"**Verdict: {verdict_text}**", ""]


def claims_markdown(simulated: pd.DataFrame | None, real: pd.DataFrame | None, *, alpha: float = ALPHA,
                    min_seeds: int = MIN_SEEDS) -> str:
    """A complete `claims.md`: the test and why, the decision rule, then per claim its tables and verdicts."""
    table = evaluate_claims(simulated, real, alpha=alpha, min_seeds=min_seeds)
    level = f"{CONFIDENCE:.0%}".replace("%", " %")
    lines = [
        "# The preprint's claims, tested on this reproduction", "",
        "Kimmel (2020), *Disentangling latent representations of single cell RNA-seq experiments*. "
        "Each claim is split into comparisons; each comparison reduces every trained model (one per seed) "
        "to one number and compares the models at each β (or C_max) with those at the reference "
        "(β = 1, scVI's ELBO; or C_max = 0 at the same β). Baselines (PCA, ICA, NMF) are not part of the claims.",
        "",
        "## Test", "",
        "- **Welch's unequal-variance t-test, one-sided** in the direction the preprint predicts, for each "
        "compared level against the reference. Seeds are independent replicate trainings, so the groups are "
        "independent samples; there are few of them; and their spread differs between β values "
        "(Fig. 3B shows much wider intervals at β ≤ 1.5), so the pooled-variance t-test does not fit. "
        "A permutation test would drop the normality assumption, but with 3 vs 3 seeds its smallest "
        "one-sided p-value is 1/20 = 0.05, so it could never reject after correction.",
        "- **Holm–Bonferroni correction** across the compared levels of one comparison (family-wise error "
        f"≤ α = {alpha:g}; valid although all tests share the reference models; never less powerful than "
        "Bonferroni). The opposite direction is tested and corrected the same way.",
        f"- Our values: mean across seeds with a t-based {level} CI. Effect: difference of means "
        f"(compared − reference) with a two-sided {level} Welch–Satterthwaite CI.",
        "- Preprint values were read off its figures by eye; they are shown beside ours, not tested.",
        "",
        "## Decision rule", "",
        f"Per comparison, with α = {alpha:g} and Holm-adjusted p-values:", "",
        f"1. **{INCONCLUSIVE}** if the reference or any compared level has fewer than {min_seeds} seeds;",
        f"2. else **{NOT_REPRODUCED}** if any compared level differs significantly (p < α) in the direction "
        "opposite to the prediction;",
        f"3. else **{REPRODUCED}** if at least one compared level differs significantly in the predicted "
        "direction;",
        f"4. else **{NOT_REPRODUCED}**.", "",
        f"A comparison without the data it needs is **{NOT_EVALUATED}: <reason>**. A claim is {REPRODUCED} "
        f"if all its evaluated comparisons are, {NOT_REPRODUCED} if any is, else {INCONCLUSIVE}.", "",
        "## Summary", "",
        "| claim | comparison | verdict |", "|---:|---|---|",
    ]
    firsts = table.groupby("comparison", sort=False).first()
    lines += [f"| {row.claim} | {key}. {row.description} | {row.verdict} |" for key, row in firsts.iterrows()]
    lines.append("")
    for claim, text in CLAIMS.items():
        claim_rows = table[table["claim"] == claim]
        lines += [f"## Claim {claim}", "", f"> {text}", ""]
        for comparison in (c for c in COMPARISONS if c.claim == claim):
            lines += _comparison_markdown(claim_rows[claim_rows["comparison"] == comparison.key], comparison,
                                          alpha)
        lines += [f"**Claim {claim}: {claim_rows['claim_verdict'].iloc[0]}**", ""]
    lines += program_recovery_markdown(simulated, real, alpha=alpha, min_seeds=min_seeds)
    return "\n".join(lines)


def write_claims(markdown: str | os.PathLike, table: str | os.PathLike | None = None,
                 simulated: str | os.PathLike | None = None, real: str | os.PathLike | None = None,
                 *, alpha: float = ALPHA, min_seeds: int = MIN_SEEDS) -> None:
    """Read the datasets' metric tables (None: not analysed), write `claims.md` and optionally the table."""
    from scbeta._io import atomic_path, read_tsv, write_tsv

    sim = read_tsv(simulated) if simulated is not None else None
    kang = read_tsv(real) if real is not None else None
    with atomic_path(markdown) as tmp:
        tmp.write_text(claims_markdown(sim, kang, alpha=alpha, min_seeds=min_seeds))
    if table is not None:
        write_tsv(evaluate_claims(sim, kang, alpha=alpha, min_seeds=min_seeds), table,
                  {"alpha": alpha, "min_seeds": min_seeds})


def program_recovery_markdown(simulated: pd.DataFrame | None, real: pd.DataFrame | None, *, alpha: float = ALPHA,
                              min_seeds: int = MIN_SEEDS) -> list[str]:
    """A section beyond the preprint's claims: does the matched dimensions' recovery of known program genes
    (`program_auroc`, `scbeta.programs.recovery`) rise with β and C_max, as their alignment does?

    The same tests and decision rule as the claims (`evaluate_comparison`); the verdicts are not part of
    any claim's."""
    value = "mean over factors of the AUROC of the matched dimension's gene ranking against the factor's program genes"
    comparisons = (
        Comparison(0, "P1", "Program recovery on simulated data rises with β (β-VAE, C_max = 0)", "simulated",
                   "program_auroc", None, value, "beta", "beta", "increase"),
        Comparison(0, "P2", "Program recovery on simulated data rises with β (capacity, C_max > 0)", "simulated",
                   "program_auroc", None, value, "capacity", "beta", "increase"),
        Comparison(0, "P3", "Program recovery on simulated data rises with C_max (same β)", "simulated",
                   "program_auroc", None, value, "both", "c_max", "increase"),
        Comparison(0, "P4", "Recovery of the interferon program by the stimulation's dimension rises with β", "real",
                   "program_auroc", STIM_FACTOR, "AUROC of the stimulation dimension's gene ranking against the "
                   "dataset's stimulation gene set", "beta", "beta", "increase"),
    )
    tables = {"simulated": simulated, "real": real}
    lines = ["## Beyond the preprint: gene programs", "",
             "Does the dimension matched to a factor (max |corr|) also carry the factor's genes? Each dimension's "
             "gene program is its decoder traversal (log2 fold change of every gene's expected expression across "
             "the dimension's observed range, `scbeta.tl.gene_programs`); its ranking of genes by |score| is scored "
             "by AUROC against the simulator's program genes, or on real data against a gene set "
             "(`datasets.<name>.gene_sets`). Same tests and decision rule as above.", ""]
    for comparison in comparisons:
        rows = evaluate_comparison(tables[comparison.role], comparison, alpha, min_seeds)
        lines += _comparison_markdown(rows, comparison, alpha)
    return lines
