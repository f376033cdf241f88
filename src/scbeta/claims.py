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

The decision rule is `DECISION_RULE` (applied by `verdict`, printed in `claims.md`). Beside each
level stand the active latent dimensions of its models (`scbeta.metrics.active_units`): max |corr|
is scale-free and cannot see posterior collapse, so a verdict that rests on models with fewer
than `MIN_ACTIVE_UNITS` active dimensions says so.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from scbeta.metrics.activity import ACTIVITY_THRESHOLD, MIN_ACTIVE_UNITS
from scbeta.stats import CONFIDENCE, Direction, holm, mean_ci, welch_test

ALPHA = 0.05
MIN_SEEDS = 3
STIM_FACTOR = "stim_indicator"

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive (too few seeds)"
NOT_EVALUATED = "not evaluated"

TEST = "Welch's t-test, one-sided in the predicted direction; Holm-Bonferroni across compared levels"

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
           "effect_ci_low", "effect_ci_high", "p_value", "p_holm", "p_opposite_holm", "significant",
           "active_units", "n_collapsed", "test", "verdict", "collapsed", "claim_verdict"]
_METRIC_COLUMNS = ["method", "objective", "beta", "c_max", "seed", "run", "metric", "factor", "value"]
_RUNS_LABEL = {"beta": "β-VAE (objective 'beta', C_max = 0)", "capacity": "capacity (C_max > 0)",
               "both": "β-VAE or capacity"}
_LEVEL_LABEL = {"beta": "β", "c_max": "C_max"}


class _NotEvaluated(Exception):
    """A comparison cannot be made from the data given; the message is the reason."""


def decision_rule(alpha: float = ALPHA, min_seeds: int = MIN_SEEDS) -> list[str]:
    """The decision rule for one comparison, as the numbered Markdown list `claims.md` prints; `verdict` applies it."""
    return [f"1. **{INCONCLUSIVE}** if the reference or any compared level has fewer than {min_seeds} seeds;",
            f"2. else **{NOT_REPRODUCED}** if any compared level differs significantly (Holm-adjusted p < α = "
            f"{alpha:g}) in the direction opposite to the prediction;",
            f"3. else **{REPRODUCED}** if at least one compared level differs significantly in the predicted "
            "direction;",
            f"4. else **{NOT_REPRODUCED}**.",
            "",
            f"A comparison without the data it needs is **{NOT_EVALUATED}**, with the reason. A claim is "
            f"{REPRODUCED} if all its evaluated comparisons are, {NOT_REPRODUCED} if any is, else {INCONCLUSIVE}. "
            f"A verdict whose levels include models with fewer than {MIN_ACTIVE_UNITS} active latent dimensions "
            "(collapsed: the posterior equals the prior for almost every dimension) says so: it compares models "
            "that barely use their latent space."]


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
    """One finite value per run for `comparison`: columns `beta`, `c_max`, `seed`, `run`, `value` and
    `active_units` (NaN where the table has no `active_units` row for the run).

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
    values = (rows.astype({"value": float})
              .groupby(["beta", "c_max", "seed", "run"], as_index=False)["value"].mean())
    active = runs[runs["metric"] == "active_units"].groupby("run")["value"].first().astype(float)
    return values.assign(active_units=values["run"].map(active))


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
        summary = mean_ci(group["value"])
        active = group["active_units"]
        is_ref = bool(np.isclose(varied, comparison.reference))
        tested = varied > comparison.reference and not is_ref and len(ref) > 0
        test = welch_test(ref, group["value"], comparison.direction) if tested else None
        pre_lo, pre_hi = _preprint(comparison, beta, c_max)
        records.append({"beta": beta, "c_max": c_max, "reference": is_ref, "n_seeds": len(group),
                        "n_reference": len(ref), "tested": tested, "mean": summary.mean, "ci_low": summary.low,
                        "ci_high": summary.high, "active_units": active.mean(),
                        "n_collapsed": int((active < MIN_ACTIVE_UNITS).sum()),
                        "preprint_low": pre_lo, "preprint_high": pre_hi,
                        "effect": test.effect if test else np.nan,
                        "effect_ci_low": test.ci_low if test else np.nan,
                        "effect_ci_high": test.ci_high if test else np.nan,
                        "p_value": test.p_predicted if test else np.nan,
                        "p_opposite": test.p_opposite if test else np.nan})
    return pd.DataFrame(records)


def collapse_note(rows: pd.DataFrame, comparison: Comparison) -> str:
    """"" if no level in `rows` has collapsed models (fewer than `MIN_ACTIVE_UNITS` active dimensions),
    else which levels have how many: "rests on collapsed models: β = 10 (3 of 3 seeds), …"."""
    collapsed = rows[rows["n_collapsed"] > 0]
    if collapsed.empty:
        return ""
    name = _LEVEL_LABEL[comparison.level]
    both = collapsed["c_max"].nunique() > 1 or comparison.level == "c_max"
    levels = [f"{name} = {getattr(r, comparison.level):g}"
              + (f" at {_LEVEL_LABEL[comparison.stratum]} = {getattr(r, comparison.stratum):g}" if both else "")
              + f" ({int(r.n_collapsed)} of {int(r.n_seeds)} seeds)" for r in collapsed.itertuples()]
    return (f"rests on collapsed models (fewer than {MIN_ACTIVE_UNITS} active latent dimensions): "
            + ", ".join(levels))


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
    # A level counts towards the verdict if it was tested or is the reference of a tested level.
    held = rows.loc[rows["tested"], comparison.stratum]
    counted = rows["tested"] | (rows["reference"] & rows[comparison.stratum].isin(held))
    if not tested.any():
        return _not_evaluated(comparison, dataset, _untested_reason(values, comparison))
    rows["p_holm"] = np.where(tested, holm(rows["p_value"].where(tested)), np.nan)
    rows["p_opposite_holm"] = np.where(tested, holm(rows["p_opposite"].where(tested)), np.nan)
    rows["significant"] = (rows["p_holm"] < alpha).where(tested)
    decided = rows[tested]
    rows["verdict"] = verdict(decided["n_reference"], decided["n_seeds"], decided["p_holm"],
                              decided["p_opposite_holm"], alpha=alpha, min_seeds=min_seeds)
    rows["collapsed"] = collapse_note(rows[counted], comparison)
    return rows.assign(claim=comparison.claim, comparison=comparison.key, description=comparison.description,
                       dataset=dataset, value=comparison.value, direction=comparison.direction,
                       level=comparison.level, test=TEST).reindex(columns=COLUMNS)


def evaluate_claims(simulated: pd.DataFrame | None, real: pd.DataFrame | None, *, alpha: float = ALPHA,
                    min_seeds: int = MIN_SEEDS) -> pd.DataFrame:
    """Every comparison of every claim, one row per claim × comparison × level (β, C_max).

    `simulated` and `real` are the long metric tables of the two datasets (`results/<dataset>/
    metrics/all.tsv`), or None when a dataset was not analysed. Columns (`COLUMNS`): our mean and
    CI across seeds, the preprint's read-off range, the effect vs the reference with its CI, the
    raw and Holm-adjusted one-sided p-values, the mean active latent dimensions and the seeds
    with fewer than `MIN_ACTIVE_UNITS` (collapsed), the comparison's verdict (`decision_rule`)
    and its `collapsed` note ("" if none), and the claim's verdict.
    """
    tables = {"simulated": simulated, "real": real}
    parts = [evaluate_comparison(tables[c.role], c, alpha, min_seeds) for c in COMPARISONS]
    # Not-evaluated rows carry NaNs: nullable dtypes keep counts integral and flags boolean.
    result = pd.concat(parts, ignore_index=True).astype(
        {"claim": int, "n_seeds": "Int64", "n_collapsed": "Int64", "reference": "boolean",
         "significant": "boolean"})
    result["collapsed"] = result["collapsed"].fillna("")
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


def _active(mean: float, n_collapsed: float) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.1f} ({int(n_collapsed)})"


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
    lines += [f"| β | C_max | seeds | active dims (collapsed seeds) | ours: mean [95 % CI] | preprint "
              f"| effect vs {ref} [95 % CI] | p (one-sided) | p (Holm) | p opposite (Holm) |",
              "|---:|---:|---:|---:|---|---|---|---:|---:|---:|"]
    for row in rows.itertuples():
        p_holm, p_opposite = (f"**{_p(p)}**" if p < alpha else _p(p) for p in (row.p_holm, row.p_opposite_holm))
        lines.append(f"| {row.beta:g} | {row.c_max:g} | {int(row.n_seeds)} | {_active(row.active_units, row.n_collapsed)} "
                     f"| {_with_ci(row.mean, row.ci_low, row.ci_high)} | {_range(row.preprint_low, row.preprint_high)} "
                     f"| {_with_ci(row.effect, row.effect_ci_low, row.effect_ci_high, signed=True)} "
                     f"| {_p(row.p_value)} | {p_holm} | {p_opposite} |")
    lines += ["", f"Active dims: mean over seeds of the latent dimensions whose posterior mean varies across "
                  f"cells (variance > {ACTIVITY_THRESHOLD:g}); in brackets the seeds with fewer than {MIN_ACTIVE_UNITS} (collapsed)."]
    if comparison.preprint_note:
        lines += ["", f"Preprint: {comparison.preprint_note}"]
    collapsed = rows["collapsed"].iloc[0]
    note = f" — {collapsed}" if collapsed else ""
    return [*lines, "", f"**Verdict: {verdict_text}**{note}", ""]


def _short_verdict(verdict_text: str, collapsed: str) -> str:
    return f"{verdict_text} (rests on collapsed models)" if collapsed else verdict_text


def claims_markdown(result: pd.DataFrame, *, programs: pd.DataFrame | None = None, alpha: float = ALPHA,
                    min_seeds: int = MIN_SEEDS, reduced: str = "") -> str:
    """A complete `claims.md` from `evaluate_claims`' table: the reduced-configuration note (if any), the
    test and why, the decision rule, then per claim its tables and verdicts, and, with `programs`
    (`evaluate_programs`' table), the gene-program section."""
    level = f"{CONFIDENCE:.0%}".replace("%", " %")
    lines = ["# The preprint's claims, tested on this reproduction", ""]
    if reduced:
        lines += [f"> **{reduced}**", ""]
    lines += [
        "Kimmel (2020), *Disentangling latent representations of single cell RNA-seq experiments*. "
        "Each claim is split into comparisons; each comparison reduces every trained model (one per seed) "
        "to one number and compares the models at each β (or C_max) with those at the reference "
        "(β = 1, scVI's ELBO; or C_max = 0 at the same β). Baselines (PCA, ICA, NMF) are not part of the claims.",
        "",
        "## Summary", "",
        "| claim | comparison | verdict |", "|---:|---|---|",
    ]
    firsts = result.groupby("comparison", sort=False).first()
    lines += [f"| {row.claim} | {key}. {row.description} | {_short_verdict(row.verdict, row.collapsed)} |"
              for key, row in firsts.iterrows()]
    lines += [
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
        "Per comparison:", "",
        *decision_rule(alpha, min_seeds), "",
    ]
    for claim, text in CLAIMS.items():
        claim_rows = result[result["claim"] == claim]
        lines += [f"## Claim {claim}", "", f"> {text}", ""]
        for comparison in (c for c in COMPARISONS if c.claim == claim):
            lines += _comparison_markdown(claim_rows[claim_rows["comparison"] == comparison.key], comparison,
                                          alpha)
        lines += [f"**Claim {claim}: {claim_rows['claim_verdict'].iloc[0]}**", ""]
    if programs is not None:
        lines += program_recovery_markdown(programs, alpha)
    return "\n".join(lines)


def claims_html(markdown_text: str) -> str:
    """`claims.md` as a standalone HTML page. A literal `<` in the text is escaped first, so that it is
    shown rather than read as the start of an HTML tag."""
    import markdown as md

    body = md.markdown(markdown_text.replace("<", "&lt;"), extensions=["tables"])
    return ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Claims of the preprint</title>"
            "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head>"
            f"<body>{body}</body></html>\n")


def claims_summary_rst(result: pd.DataFrame, reduced: str = "") -> str:
    """The summary of `evaluate_claims`' table as reStructuredText for the report's landing page: the
    reduced-configuration note (if any) and one table row per comparison with its verdict."""
    lines = []
    if reduced:
        lines += [f".. warning:: {reduced}", ""]
    lines += [".. list-table:: The preprint's claims, tested (details: claims.html under Claims)",
              "   :header-rows: 1", "",
              "   * - claim", "     - comparison", "     - verdict"]
    firsts = result.groupby("comparison", sort=False).first()
    for key, row in firsts.iterrows():
        # "3." would open a numbered list in reStructuredText: the dot is escaped.
        lines += [f"   * - {row.claim}", f"     - {key}\\. {row.description}",
                  f"     - {_short_verdict(row.verdict, row.collapsed)}"]
    return "\n".join(lines) + "\n"


def write_claims(markdown: str | os.PathLike, table: str | os.PathLike | None = None,
                 simulated: str | os.PathLike | None = None, real: str | os.PathLike | None = None,
                 *, html: str | os.PathLike | None = None, summary: str | os.PathLike | None = None,
                 reduced: str = "", alpha: float = ALPHA, min_seeds: int = MIN_SEEDS) -> None:
    """Read the datasets' metric tables (None: not analysed), evaluate the claims once, and write
    `claims.md` and, where given, the table, the HTML page and the report's reStructuredText summary."""
    from scbeta._io import atomic_path, read_tsv, write_tsv

    sim = read_tsv(simulated) if simulated is not None else None
    kang = read_tsv(real) if real is not None else None
    result = evaluate_claims(sim, kang, alpha=alpha, min_seeds=min_seeds)
    programs = evaluate_programs(sim, kang, alpha=alpha, min_seeds=min_seeds)
    text = claims_markdown(result, programs=programs, alpha=alpha, min_seeds=min_seeds, reduced=reduced)
    outputs = {markdown: text, html: claims_html(text) if html is not None else None,
               summary: claims_summary_rst(result, reduced) if summary is not None else None}
    for path, content in outputs.items():
        if path is not None:
            with atomic_path(path) as tmp:
                tmp.write_text(content)
    if table is not None:
        write_tsv(result, table, {"alpha": alpha, "min_seeds": min_seeds, "reduced": reduced})


_PROGRAM_VALUE = ("mean over factors of the AUROC of the matched dimension's gene ranking against the factor's "
                  "program genes")
PROGRAM_COMPARISONS = (
    Comparison(0, "P1", "Program recovery on simulated data rises with β (β-VAE, C_max = 0)", "simulated",
               "program_auroc", None, _PROGRAM_VALUE, "beta", "beta", "increase"),
    Comparison(0, "P2", "Program recovery on simulated data rises with β (capacity, C_max > 0)", "simulated",
               "program_auroc", None, _PROGRAM_VALUE, "capacity", "beta", "increase"),
    Comparison(0, "P3", "Program recovery on simulated data rises with C_max (same β)", "simulated",
               "program_auroc", None, _PROGRAM_VALUE, "both", "c_max", "increase"),
    Comparison(0, "P4", "Recovery of the interferon program by the stimulation's dimension rises with β", "real",
               "program_auroc", STIM_FACTOR, "AUROC of the stimulation dimension's gene ranking against the "
               "dataset's stimulation gene set", "beta", "beta", "increase"),
)


def evaluate_programs(simulated: pd.DataFrame | None, real: pd.DataFrame | None, *, alpha: float = ALPHA,
                      min_seeds: int = MIN_SEEDS) -> pd.DataFrame:
    """A question beyond the preprint's claims: does the matched dimensions' recovery of known program genes
    (`program_auroc`, `scbeta.programs.recovery`) rise with β and C_max, as their alignment does? The same
    tests and decision rule as the claims (`evaluate_comparison`); the verdicts are not part of any claim's."""
    tables = {"simulated": simulated, "real": real}
    return pd.concat([evaluate_comparison(tables[c.role], c, alpha, min_seeds) for c in PROGRAM_COMPARISONS],
                     ignore_index=True)


def program_recovery_markdown(programs: pd.DataFrame, alpha: float = ALPHA) -> list[str]:
    """The section of `claims.md` on gene programs, from `evaluate_programs`' table."""
    lines = ["## Beyond the preprint: gene programs", "",
             "Does the dimension matched to a factor (max |corr|) also carry the factor's genes? Each dimension's "
             "gene program is its decoder traversal (log2 fold change of every gene's expected expression across "
             "the dimension's observed range, `scbeta.tl.gene_programs`); its ranking of genes by |score| is scored "
             "by AUROC against the simulator's program genes, or on real data against a gene set "
             "(`datasets.<name>.gene_sets`). Same tests and decision rule as above.", ""]
    for comparison in PROGRAM_COMPARISONS:
        lines += _comparison_markdown(programs[programs["comparison"] == comparison.key], comparison, alpha)
    return lines
