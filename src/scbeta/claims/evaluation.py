"""The comparisons the claims are split into, and their evaluation on a dataset's metric table.

A comparison reduces every trained model (one per seed) to one number, then compares the models
at each level (β, or C_max) with those at the reference level (β = 1, or C_max = 0 at the same β):
per level the mean across seeds with a 95 % CI within the metric's range (`scbeta.stats.mean_ci`),
the seeds' spread, the effect against the reference with Welch's CI, Welch's one-sided test
both ways, then the verdict of `scbeta.claims.decision`.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from scbeta.claims.decision import (ALPHA, MIN_SEEDS, NOT_EVALUATED, TEST, Decision, claim_verdict, decide,
                                    seed_subsets, stability)
from scbeta.metrics.activity import MIN_ACTIVE_UNITS
from scbeta.registry import is_beta_vae
from scbeta.stats import Direction, WelchResult, holm, mean_ci, metric_bounds, welch_test

STIM_FACTOR = "stim_indicator"

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

_PROGRAM_VALUE = ("mean over factors of the AUROC of the matched dimension's gene ranking against the factor's "
                  "program genes")
PROGRAM_COMPARISONS: tuple[Comparison, ...] = (
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

COLUMNS = ["claim", "comparison", "description", "dataset", "value", "direction", "level", "beta", "c_max",
           "reference", "n_seeds", "mean", "ci_low", "ci_high", "sd", "seed_min", "seed_max", "preprint_low",
           "preprint_high", "effect", "effect_ci_low", "effect_ci_high", "p_value", "p_holm", "p_opposite_holm",
           "significant", "active_units", "n_collapsed", "level_collapsed", "set_aside", "test", "verdict",
           "without_collapsed", "collapse", "stability", "n_subsets", "claim_verdict", "claim_stability"]
_METRIC_COLUMNS = ["method", "objective", "beta", "c_max", "seed", "run", "metric", "factor", "value"]
RUNS_LABEL = {"beta": "β-VAE (objective 'beta', C_max = 0)", "capacity": "capacity (C_max > 0)",
              "both": "β-VAE or capacity"}
LEVEL_LABEL = {"beta": "β", "c_max": "C_max"}


class NotEvaluated(Exception):
    """A comparison cannot be made from the data given; the message is the reason."""


class _Level(NamedTuple):
    """The models of one (stratum, level) cell: their seeds, values and active dimensions."""

    held: float
    varied: float
    seeds: np.ndarray
    values: np.ndarray
    active: np.ndarray

    def only(self, seeds: Sequence[int] | None) -> _Level:
        if seeds is None:
            return self
        keep = np.isin(self.seeds, list(seeds))
        return self._replace(seeds=self.seeds[keep], values=self.values[keep], active=self.active[keep])

    @property
    def n_collapsed(self) -> int:
        return int((self.active < MIN_ACTIVE_UNITS).sum())  # NaN (no diagnostics) is never collapsed


def run_values(table: pd.DataFrame | None, comparison: Comparison) -> pd.DataFrame:
    """One finite value per run for `comparison`: columns `beta`, `c_max`, `seed`, `run`, `value` and
    `active_units` (NaN where the table has no `active_units` row for the run).

    Only VAE runs of the comparison's objectives; baselines are ignored. Raises `NotEvaluated`
    (message: the reason) when the dataset, the runs or the metric rows are missing.
    """
    if table is None:
        raise NotEvaluated(f"no {comparison.role} dataset")
    missing = [c for c in _METRIC_COLUMNS if c not in table.columns]
    if missing:
        raise NotEvaluated(f"the {comparison.role} metric table lacks columns {', '.join(missing)}")
    vae = table[table["method"] == "vae"].assign(c_max=lambda t: t["c_max"].fillna(0.0))
    beta_vae = is_beta_vae(vae)
    capacity = (vae["objective"] == "capacity") & (vae["c_max"] > 0)
    keep = {"beta": beta_vae, "capacity": capacity, "both": beta_vae | capacity}[comparison.runs]
    runs = vae[keep]
    if runs.empty:
        raise NotEvaluated(f"no {RUNS_LABEL[comparison.runs]} runs in the {comparison.role} dataset")
    rows = runs[runs["metric"] == comparison.metric]
    if comparison.factor is not None:
        rows = rows[rows["factor"] == comparison.factor]
    rows = rows[np.isfinite(pd.to_numeric(rows["value"], errors="coerce"))]
    if rows.empty:
        what = f"`{comparison.metric}`" + (f" of `{comparison.factor}`" if comparison.factor else "")
        raise NotEvaluated(f"no finite {what} values in the {comparison.role} dataset")
    values = (rows.astype({"value": float})
              .groupby(["beta", "c_max", "seed", "run"], as_index=False)["value"].mean())
    active = runs[runs["metric"] == "active_units"].groupby("run")["value"].first().astype(float)
    return values.assign(active_units=values["run"].map(active))


def _levels(values: pd.DataFrame, comparison: Comparison) -> list[_Level]:
    return [_Level(float(held), float(varied), group["seed"].to_numpy(dtype=int), group["value"].to_numpy(float),
                   group["active_units"].to_numpy(float))
            for (held, varied), group in values.groupby([comparison.stratum, comparison.level], sort=True)]


def _reference_of(levels: Sequence[_Level], level: _Level, comparison: Comparison) -> _Level | None:
    return next((r for r in levels if r.held == level.held and np.isclose(r.varied, comparison.reference)), None)


def _is_tested(level: _Level, reference: _Level | None, comparison: Comparison) -> bool:
    return reference is not None and level.varied > comparison.reference and not np.isclose(
        level.varied, comparison.reference)


def _tested(levels: Sequence[_Level], comparison: Comparison, seeds: Sequence[int] | None = None
            ) -> Iterator[tuple[_Level, _Level, WelchResult, bool]]:
    """(level, its reference, Welch's test, set aside as collapsed) for each tested level, over all seeds or only
    `seeds`. A level is set aside where it or its reference has a collapsed model."""
    for level in levels:
        reference = _reference_of(levels, level, comparison)
        if not _is_tested(level, reference, comparison):
            continue
        level, reference = level.only(seeds), reference.only(seeds)
        yield (level, reference, welch_test(reference.values, level.values, comparison.direction),
               level.n_collapsed > 0 or reference.n_collapsed > 0)


def _decision(levels: Sequence[_Level], comparison: Comparison, alpha: float, min_seeds: int,
              seeds: Sequence[int] | None = None) -> Decision:
    """`decide` on the tested levels, over all seeds or only `seeds`."""
    tested = list(_tested(levels, comparison, seeds))
    return decide([reference.values.size for _, reference, _, _ in tested],
                  [level.values.size for level, _, _, _ in tested],
                  [test.p_predicted for _, _, test, _ in tested], [test.p_opposite for _, _, test, _ in tested],
                  [aside for _, _, _, aside in tested], alpha, min_seeds)


def _preprint(comparison: Comparison, beta: float, c_max: float) -> tuple[float, float]:
    """The preprint's read-off (low, high) at this β, or NaNs where it shows none."""
    if c_max != 0 or comparison.runs == "both":
        return np.nan, np.nan
    return next((v for b, v in comparison.preprint.items() if np.isclose(b, beta)), (np.nan, np.nan))


def _level_rows(levels: Sequence[_Level], comparison: Comparison) -> pd.DataFrame:
    """One row per (stratum, level): seeds, mean with its CI and spread, and for tested levels the test."""
    bounds = metric_bounds(comparison.metric)
    tests = {(level.held, level.varied): (reference, test, aside)
             for level, reference, test, aside in _tested(levels, comparison)}
    records = []
    for level in levels:
        reference, test, aside = tests.get((level.held, level.varied), (None, None, False))
        beta, c_max = (level.varied, level.held) if comparison.level == "beta" else (level.held, level.varied)
        summary = mean_ci(level.values, bounds=bounds)
        pre_lo, pre_hi = _preprint(comparison, beta, c_max)
        records.append({"beta": beta, "c_max": c_max, "reference": bool(np.isclose(level.varied, comparison.reference)),
                        "n_seeds": level.values.size, "n_reference": reference.values.size if reference else 0,
                        "tested": test is not None, "mean": summary.mean, "ci_low": summary.low, "ci_high": summary.high,
                        "sd": float(np.std(level.values, ddof=1)) if level.values.size > 1 else np.nan,
                        "seed_min": float(level.values.min()), "seed_max": float(level.values.max()),
                        "active_units": float(np.mean(level.active)) if np.isfinite(level.active).any() else np.nan,
                        "n_collapsed": level.n_collapsed, "level_collapsed": level.n_collapsed > 0, "set_aside": aside,
                        "preprint_low": pre_lo, "preprint_high": pre_hi,
                        "effect": test.effect if test else np.nan,
                        "effect_ci_low": test.ci_low if test else np.nan,
                        "effect_ci_high": test.ci_high if test else np.nan,
                        "p_value": test.p_predicted if test else np.nan,
                        "p_opposite": test.p_opposite if test else np.nan})
    return pd.DataFrame(records)


def _untested_reason(values: pd.DataFrame, comparison: Comparison) -> str:
    name, ref = LEVEL_LABEL[comparison.level], comparison.reference
    if not np.isclose(values[comparison.level], ref).any():
        return f"no runs at the reference {name} = {ref:g}"
    if not (values[comparison.level] > ref).any():
        return f"no runs at {name} > {ref:g}"
    return f"no runs at {name} > {ref:g} share a {LEVEL_LABEL[comparison.stratum]} with the reference"


def _not_evaluated(comparison: Comparison, dataset: str, reason: str) -> pd.DataFrame:
    row = {"claim": comparison.claim, "comparison": comparison.key, "description": comparison.description,
           "dataset": dataset, "value": comparison.value, "direction": comparison.direction,
           "level": comparison.level, "test": TEST, "verdict": f"{NOT_EVALUATED}: {reason}"}
    return pd.DataFrame([row]).reindex(columns=COLUMNS)


def _evaluate(table: pd.DataFrame | None, comparison: Comparison, alpha: float, min_seeds: int
              ) -> tuple[pd.DataFrame, dict[tuple[int, ...], str]]:
    """The comparison's rows, and its verdict on every seed subset of `seed_subsets` (for stability)."""
    dataset = ", ".join(map(str, table["dataset"].dropna().unique())) if (
        table is not None and "dataset" in table.columns) else ""
    try:
        values = run_values(table, comparison)
    except NotEvaluated as reason:
        return _not_evaluated(comparison, dataset, str(reason)), {}
    levels = _levels(values, comparison)
    rows = _level_rows(levels, comparison)
    tested = rows["tested"].to_numpy()
    if not tested.any():
        return _not_evaluated(comparison, dataset, _untested_reason(values, comparison)), {}
    rows["p_holm"] = np.where(tested, holm(rows["p_value"].where(tested)), np.nan)
    rows["p_opposite_holm"] = np.where(tested, holm(rows["p_opposite"].where(tested)), np.nan)
    rows["significant"] = (rows["p_holm"] < alpha).where(tested)
    decision = _decision(levels, comparison, alpha, min_seeds)
    subsets = seed_subsets(values["seed"].unique())
    by_subset = {subset: _decision(levels, comparison, alpha, min_seeds, subset).verdict for subset in subsets}
    rows = rows.assign(verdict=decision.verdict, without_collapsed=decision.without_collapsed,
                       collapse=decision.collapse, stability=stability(decision.verdict, list(by_subset.values())),
                       n_subsets=len(subsets))
    return rows.assign(claim=comparison.claim, comparison=comparison.key, description=comparison.description,
                       dataset=dataset, value=comparison.value, direction=comparison.direction,
                       level=comparison.level, test=TEST).reindex(columns=COLUMNS), by_subset


def evaluate_comparison(table: pd.DataFrame | None, comparison: Comparison, alpha: float = ALPHA,
                        min_seeds: int = MIN_SEEDS) -> pd.DataFrame:
    """Rows (`COLUMNS`, without the claim's columns) of one comparison: one per level, or one if not evaluated."""
    return _evaluate(table, comparison, alpha, min_seeds)[0]


def _evaluate_all(tables: Mapping[str, pd.DataFrame | None], comparisons: Sequence[Comparison], alpha: float,
                  min_seeds: int) -> pd.DataFrame:
    parts, subset_verdicts = [], {}
    for comparison in comparisons:
        rows, subset_verdicts[comparison.key] = _evaluate(tables[comparison.role], comparison, alpha, min_seeds)
        parts.append(rows)
    # Not-evaluated rows carry NaNs: nullable dtypes keep counts integral and flags boolean.
    result = pd.concat(parts, ignore_index=True).astype(
        {"claim": int, "n_seeds": "Int64", "n_collapsed": "Int64", "n_subsets": "Int64", "reference": "boolean",
         "significant": "boolean", "level_collapsed": "boolean", "set_aside": "boolean"})
    for column in ("collapse", "without_collapsed"):
        result[column] = result[column].fillna("")
    per_comparison = result.groupby("comparison", sort=False)["verdict"].first()
    by_claim, stable = {}, {}
    for claim in result["claim"].unique():
        keys = [c.key for c in comparisons if c.claim == claim]
        full = claim_verdict(per_comparison[keys].tolist())
        # The claim on a seed subset: its comparisons' verdicts on that subset (those not evaluated stay so).
        evaluated = [k for k in keys if subset_verdicts[k]]
        common = set.intersection(*(set(subset_verdicts[k]) for k in evaluated)) if evaluated else set()
        on_subsets = [claim_verdict([subset_verdicts[k][s] if k in evaluated else per_comparison[k] for k in keys])
                      for s in sorted(common)]
        by_claim[claim], stable[claim] = full, stability(full, on_subsets)
    return result.assign(claim_verdict=result["claim"].map(by_claim), claim_stability=result["claim"].map(stable))


def evaluate_claims(simulated: pd.DataFrame | None, real: pd.DataFrame | None, *, alpha: float = ALPHA,
                    min_seeds: int = MIN_SEEDS) -> pd.DataFrame:
    """Every comparison of every claim, one row per claim × comparison × level (β, C_max).

    `simulated` and `real` are the long metric tables of the two datasets (`results/<dataset>/
    metrics/all.tsv`), or None when a dataset was not analysed. Columns (`COLUMNS`): our mean,
    CI and seed spread, the preprint's read-off range, the effect vs the reference with its CI,
    the raw and Holm-adjusted one-sided p-values, the mean active latent dimensions and the seeds
    with fewer than `MIN_ACTIVE_UNITS` (collapsed), whether the level is set aside as collapsed,
    the comparison's verdict with and without collapsed levels and how they relate, its stability
    over seed subsets, and the claim's verdict and stability.
    """
    return _evaluate_all({"simulated": simulated, "real": real}, COMPARISONS, alpha, min_seeds)


def evaluate_programs(simulated: pd.DataFrame | None, real: pd.DataFrame | None, *, alpha: float = ALPHA,
                      min_seeds: int = MIN_SEEDS) -> pd.DataFrame:
    """A question beyond the preprint's claims: does the matched dimensions' recovery of known program genes
    (`program_auroc`, `scbeta.programs.recovery`) rise with β and C_max, as their alignment does? The same
    tests and decision rule as the claims; the verdicts are not part of any claim's."""
    return _evaluate_all({"simulated": simulated, "real": real}, PROGRAM_COMPARISONS, alpha, min_seeds)
