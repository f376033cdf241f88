"""Claims evaluation on made-up metric tables whose answer is known."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from scbeta.claims import (COLUMNS, INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, claim_verdict, claims_html,
                           claims_markdown, claims_summary_rst, evaluate_claims, verdict)
from scbeta.stats import holm, mean_ci, welch_test

SIM_FACTORS = [f"identity_{i:02d}" for i in range(5)] + ["activity_00"]
CELL_TYPES = ["B cells", "CD4 T cells", "NK cells"]
SIM_BETAS = (1.0, 10.0, 30.0, 50.0)
REAL_BETAS = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0)


def _rows(dataset: str, objective: str, c_max: float, means: Mapping[float, float], metric: str,
          factors: Sequence[str | None], seeds: Sequence[int], noise: float, rng: np.random.Generator,
          method: str = "vae") -> list[dict]:
    """Long metric rows: one per run × factor, value = the β's mean + Gaussian noise."""
    rows = []
    for beta, mean in means.items():
        for seed in seeds:
            run = f"{objective}_beta{beta:g}_cmax{c_max:g}_seed{seed}"
            for factor in factors:
                rows.append({"dataset": dataset, "run": run, "method": method, "objective": objective,
                             "beta": beta, "c_max": c_max, "gamma": 0.0, "seed": seed, "metric": metric,
                             "factor": factor, "dim": 0, "value": mean + noise * rng.standard_normal()})
    return rows


def simulated_table(beta_means: Mapping[float, float], capacity_means: Mapping[float, float] | None = None,
                    seeds: Sequence[int] = range(5), noise: float = 0.01, seed: int = 0,
                    active: Mapping[float, float] | None = None) -> pd.DataFrame:
    """β-VAE (and capacity) max |corr| rows; with `active`, `active_units` rows of the β-VAE runs per β."""
    rng = np.random.default_rng(seed)
    rows = _rows("simulated", "beta", 0.0, beta_means, "max_abs_corr", SIM_FACTORS, seeds, noise, rng)
    if active is not None:
        rows += _rows("simulated", "beta", 0.0, active, "active_units", [""], seeds, 0.0, rng)
    if capacity_means is not None:
        rows += _rows("simulated", "capacity", 10.0, capacity_means, "max_abs_corr", SIM_FACTORS, seeds, noise, rng)
    # A baseline far above every VAE: must not enter any claim.
    rows += _rows("simulated", "", 0.0, {0.0: 0.99}, "max_abs_corr", SIM_FACTORS, seeds, noise, rng, method="pca")
    return pd.DataFrame(rows)


def real_table(stim: Mapping[float, float], accuracy: Mapping[float, float], ari: Mapping[float, float],
               seeds: Sequence[int] = range(4), noise: float = 0.01, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = (_rows("kang2018", "beta", 0.0, stim, "max_abs_corr", ["stim_indicator"], seeds, noise, rng)
            + _rows("kang2018", "beta", 0.0, accuracy, "identity_accuracy", CELL_TYPES, seeds, noise, rng)
            + _rows("kang2018", "beta", 0.0, ari, "best_ari", [None], seeds, noise, rng))
    return pd.DataFrame(rows)


RISING_SIM = dict(zip(SIM_BETAS, (0.45, 0.55, 0.60, 0.62)))
RISING_CAPACITY = dict(zip(SIM_BETAS, (0.50, 0.60, 0.64, 0.66)))
RISING_REAL = dict(stim=dict(zip(REAL_BETAS, (0.82, 0.83, 0.85, 0.85, 0.85, 0.85))),
                   accuracy=dict(zip(REAL_BETAS, (0.85, 0.86, 0.88, 0.90, 0.91, 0.92))),
                   ari=dict(zip(REAL_BETAS, (0.70, 0.55, 0.50, 0.43, 0.44, 0.46))))


def verdicts(result: pd.DataFrame) -> dict[str, str]:
    return result.groupby("comparison")["verdict"].first().to_dict()


def claim_verdicts(result: pd.DataFrame) -> dict[int, str]:
    return result.groupby("claim")["claim_verdict"].first().to_dict()


@pytest.fixture(scope="module")
def reproduced() -> pd.DataFrame:
    return evaluate_claims(simulated_table(RISING_SIM, RISING_CAPACITY), real_table(**RISING_REAL))


# --- the decision rule ---------------------------------------------------------------------------

def test_verdict_rule():
    assert verdict([3, 3], [3, 3], [0.01, 0.5], [0.99, 0.5]) == REPRODUCED
    assert verdict([3, 3], [3, 3], [0.2, 0.5], [0.8, 0.5]) == NOT_REPRODUCED
    # A significant reversal at any level overrides a significant rise elsewhere.
    assert verdict([3, 3], [3, 3], [0.01, 0.99], [0.99, 0.01]) == NOT_REPRODUCED
    # Too few seeds at the reference or at any compared level, whatever the p-values.
    assert verdict([2, 2], [3, 3], [0.001, 0.001], [1, 1]) == INCONCLUSIVE
    assert verdict([3, 3], [3, 2], [0.001, 0.001], [1, 1]) == INCONCLUSIVE
    assert verdict([3], [3], [np.nan], [np.nan]) == NOT_REPRODUCED  # untested is never significant
    assert verdict([3], [3], [0.05], [0.95]) == NOT_REPRODUCED  # p < α, strictly
    assert verdict([], [], [], []).startswith("not evaluated")
    with pytest.raises(ValueError):
        verdict([3], [3, 3], [0.1], [0.9])


def test_claim_verdict():
    assert claim_verdict([REPRODUCED, REPRODUCED]) == REPRODUCED
    assert claim_verdict([REPRODUCED, "not evaluated: no real dataset"]) == REPRODUCED
    assert claim_verdict([REPRODUCED, INCONCLUSIVE]) == INCONCLUSIVE
    assert claim_verdict([INCONCLUSIVE, NOT_REPRODUCED]) == NOT_REPRODUCED
    assert claim_verdict(["not evaluated: no real dataset"] * 2) == "not evaluated: no real dataset"


# --- the statistics ------------------------------------------------------------------------------

def test_welch_matches_scipy():
    a, b = [0.40, 0.45, 0.43, 0.47], [0.52, 0.61, 0.55]
    result = welch_test(a, b, "increase")
    expected = stats.ttest_ind(b, a, equal_var=False, alternative="greater")
    assert result.p_predicted == pytest.approx(expected.pvalue)
    assert result.p_opposite == pytest.approx(1 - expected.pvalue)
    ci = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert (result.ci_low, result.ci_high) == pytest.approx((ci.low, ci.high))
    assert result.effect == pytest.approx(np.mean(b) - np.mean(a))
    assert welch_test(a, b, "decrease").p_predicted == pytest.approx(result.p_opposite)
    assert np.isnan(welch_test([0.5], b, "increase").p_predicted)
    assert np.isnan(welch_test([0.5, 0.5], [0.6, 0.6], "increase").p_predicted)


def test_holm_and_mean_ci():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = holm([0.2, np.nan, 0.01])
    assert np.isnan(adjusted[1]) and adjusted[[0, 2]] == pytest.approx([0.2, 0.02])
    summary = mean_ci([1.0, 2.0, np.nan, 3.0])  # NaN ignored
    assert summary.mean == 2.0 and summary.n == 3
    assert (summary.low, summary.high) == pytest.approx((2 - 4.302653 / np.sqrt(3), 2 + 4.302653 / np.sqrt(3)))
    assert np.isnan(mean_ci([1.0]).low) and mean_ci([1.0]).n == 1 and mean_ci([]).n == 0


@pytest.mark.parametrize("values", [[0.9, 0.99, 0.999], [0.01, 0.2, 0.001], [0.5, 0.6, 0.55], [1.0, 1.0, 0.97]])
def test_bounded_interval_stays_in_range(values):
    # 3 seeds near a bound: the plain t-interval leaves [0, 1]; the bounded one never does.
    plain, bounded = mean_ci(values), mean_ci(values, bounds=(0.0, 1.0))
    assert bounded.mean == plain.mean
    assert 0.0 <= bounded.low < bounded.high <= 1.0
    assert bounded.low <= max(values) and bounded.high >= min(values)


def test_bounded_interval_matches_t_interval_in_the_middle():
    # Far from the bounds the logit is nearly linear: the two intervals agree closely.
    values = [0.49, 0.5, 0.51, 0.5, 0.52]
    plain, bounded = mean_ci(values), mean_ci(values, bounds=(0.0, 1.0))
    assert (bounded.low, bounded.high) == pytest.approx((plain.low, plain.high), abs=2e-3)
    assert (mean_ci([0.9, 0.99, 0.999]).high > 1.0)  # the case the bounds exist for


# --- claims on known answers ---------------------------------------------------------------------

def test_clear_rise_is_reproduced(reproduced):
    assert list(reproduced.columns) == COLUMNS
    assert verdicts(reproduced) == {key: REPRODUCED for key in ("1a", "1b", "1c", "2a", "2b", "3")}
    assert claim_verdicts(reproduced) == {1: REPRODUCED, 2: REPRODUCED, 3: REPRODUCED}


def test_rows_hold_our_numbers_and_the_preprints(reproduced):
    one_a = reproduced[reproduced["comparison"] == "1a"].set_index("beta")
    assert list(one_a.index) == list(SIM_BETAS)
    assert (one_a["n_seeds"] == 5).all()
    assert one_a.loc[10.0, "mean"] == pytest.approx(0.55, abs=0.01)  # the PCA baseline at 0.99 is ignored
    assert one_a.loc[10.0, "effect"] == pytest.approx(0.10, abs=0.01)
    assert one_a.loc[10.0, "effect_ci_low"] < 0.10 < one_a.loc[10.0, "effect_ci_high"]
    assert (one_a.loc[1.0, ["preprint_low", "preprint_high"]] == [0.40, 0.50]).all()
    assert np.isnan(one_a.loc[1.0, "effect"]) and bool(one_a.loc[1.0, "reference"])
    ari = reproduced[reproduced["comparison"] == "3"].set_index("beta")
    assert ari.loc[1.5, "preprint_low"] == 0.55 and ari.loc[3.0, "effect"] < 0
    stim = reproduced[reproduced["comparison"] == "2a"].set_index("beta")
    assert stim.loc[1.0, "preprint_low"] == 0.819
    # C_max comparison: each β compares C_max = 10 against C_max = 0 at the same β.
    one_c = reproduced[(reproduced["comparison"] == "1c") & (reproduced["c_max"] == 10.0)].set_index("beta")
    assert one_c.loc[1.0, "effect"] == pytest.approx(0.05, abs=0.01)


def test_fall_where_rise_predicted_is_not_reproduced():
    falling = dict(zip(SIM_BETAS, (0.60, 0.50, 0.45, 0.40)))
    result = evaluate_claims(simulated_table(falling), None)
    assert verdicts(result)["1a"] == NOT_REPRODUCED
    assert result.loc[result["comparison"] == "1a", "p_opposite_holm"].min() < 0.05


def test_pure_noise_is_not_reproduced():
    flat = dict.fromkeys(SIM_BETAS, 0.5)
    result = evaluate_claims(simulated_table(flat, flat, noise=0.05, seed=7), None)
    assert verdicts(result)["1a"] == NOT_REPRODUCED
    assert verdicts(result)["1b"] == NOT_REPRODUCED
    assert verdicts(result)["1c"] == NOT_REPRODUCED


def test_two_seeds_are_inconclusive():
    result = evaluate_claims(simulated_table(RISING_SIM, seeds=[0, 1]), real_table(**RISING_REAL, seeds=[0, 1]))
    assert verdicts(result)["1a"] == INCONCLUSIVE
    assert claim_verdicts(result)[3] == INCONCLUSIVE


def test_ari_falling_reproduces_claim_3_and_rising_does_not():
    flat = dict.fromkeys(REAL_BETAS, 0.8)
    falling = real_table(stim=flat, accuracy=flat, ari=RISING_REAL["ari"])
    assert claim_verdicts(evaluate_claims(None, falling))[3] == REPRODUCED
    rising = real_table(stim=flat, accuracy=flat, ari=dict(zip(REAL_BETAS, (0.40, 0.5, 0.6, 0.6, 0.6, 0.6))))
    assert claim_verdicts(evaluate_claims(None, rising))[3] == NOT_REPRODUCED


def test_missing_datasets_and_metrics_are_not_evaluated():
    result = evaluate_claims(simulated_table(RISING_SIM), None)
    for key in ("2a", "2b", "3"):
        assert verdicts(result)[key] == "not evaluated: no real dataset"
    assert claim_verdicts(result)[2] == "not evaluated: no real dataset"
    assert verdicts(result)["1b"].startswith("not evaluated: no capacity")
    assert claim_verdicts(result)[1] == REPRODUCED  # from its evaluated comparison 1a

    real = real_table(**RISING_REAL)
    result = evaluate_claims(None, real[real["metric"] != "identity_accuracy"])
    assert verdicts(result)["2b"].startswith("not evaluated: no finite `identity_accuracy`")
    assert verdicts(result)["2a"] == REPRODUCED
    assert claim_verdicts(result)[1] == "not evaluated: no simulated dataset"

    no_reference = real[real["beta"] != 1.0]
    assert verdicts(evaluate_claims(None, no_reference))["3"] == "not evaluated: no runs at the reference β = 1"


def test_markdown_has_every_table_and_verdict():
    text = claims_markdown(evaluate_claims(simulated_table(RISING_SIM, RISING_CAPACITY), None))
    assert text.startswith("# ")
    assert "Welch" in text and "Holm" in text and "Decision rule" in text
    for key in ("1a", "1b", "1c", "2a", "2b", "3"):
        assert f"### {key}. " in text
    assert text.count("| β | C_max | seeds |") == 3  # tables for the evaluated comparisons only
    assert text.count("**Verdict: reproduced**") == 3
    assert text.count("**Verdict: not evaluated: no real dataset**") == 3
    assert "**Claim 1: reproduced**" in text
    assert "**Claim 2: not evaluated: no real dataset**" in text
    assert "| 10 | 0 | 5 | – | 0.5" in text  # β, C_max, seeds, active dims (none scored), our mean
    assert "0.40–0.50" in text  # the preprint's read-off range beside ours


def test_write_claims_reads_tables_and_writes_report(tmp_path):
    from scbeta._io import read_tsv, write_tsv
    from scbeta.claims import write_claims

    write_tsv(simulated_table(RISING_SIM), tmp_path / "all.tsv")
    write_claims(tmp_path / "claims.md", tmp_path / "claims.tsv", simulated=tmp_path / "all.tsv")
    assert "**Claim 1: reproduced**" in (tmp_path / "claims.md").read_text()
    table = read_tsv(tmp_path / "claims.tsv")
    assert set(table["comparison"].astype(str)) == {"1a", "1b", "1c", "2a", "2b", "3"}


def test_collapsed_models_are_counted_and_named_in_the_verdict():
    # β ≥ 10 collapsed (no active dimension) in every seed; β = 1 uses 8 dimensions.
    active = {1.0: 8.0, 10.0: 0.0, 30.0: 1.0, 50.0: 0.0}
    falling = dict(zip(SIM_BETAS, (0.60, 0.20, 0.15, 0.12)))
    result = evaluate_claims(simulated_table(falling, active=active), None)
    one_a = result[result["comparison"] == "1a"].set_index("beta")
    assert one_a.loc[1.0, "active_units"] == 8.0 and one_a.loc[1.0, "n_collapsed"] == 0
    assert one_a.loc[10.0, "active_units"] == 0.0 and one_a.loc[10.0, "n_collapsed"] == 5
    assert verdicts(result)["1a"] == NOT_REPRODUCED
    note = one_a["collapsed"].iloc[0]
    assert note.startswith("rests on collapsed models") and "β = 10 (5 of 5 seeds)" in note and "β = 1 " not in note
    text = claims_markdown(result)
    assert "| 1 | 0 | 5 | 8.0 (0) |" in text and "| 10 | 0 | 5 | 0.0 (5) |" in text
    assert "**Verdict: not reproduced** — rests on collapsed models" in text
    assert "| 1 | 1a. Alignment with the simulated factors rises with β (β-VAE, C_max = 0) | not reproduced " \
           "(rests on collapsed models) |" in text
    healthy = evaluate_claims(simulated_table(RISING_SIM, active=dict.fromkeys(SIM_BETAS, 9.0)), None)
    assert set(healthy["collapsed"]) == {""}


def test_reduced_note_heads_markdown_html_and_summary():
    result = evaluate_claims(simulated_table(RISING_SIM), None)
    note = "Reduced configuration: training: 3 epochs (default 400); the full study's answers may differ."
    text = claims_markdown(result, reduced=note)
    assert text.splitlines()[2] == f"> **{note}**"
    assert "Reduced configuration" not in claims_markdown(result)
    rst = claims_summary_rst(result, note)
    assert rst.startswith(f".. warning:: {note}") and "     - reproduced" in rst and "list-table" in rst


def test_html_shows_angle_brackets_as_text():
    page = claims_html("**Verdict: not evaluated: <no runs>**\n\n> a quote\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "&lt;no runs&gt;" in page or "&lt;no runs>" in page
    assert "<blockquote>" in page and "<table>" in page and "<no runs>" not in page


def test_program_recovery_section_tests_the_same_way_and_stays_out_of_the_claims():
    from scbeta.claims import evaluate_programs, program_recovery_markdown

    rng = np.random.default_rng(5)
    sim = simulated_table(RISING_SIM, RISING_CAPACITY)
    falling = dict(zip(SIM_BETAS, (0.80, 0.70, 0.60, 0.55)))
    programs = pd.DataFrame(_rows("simulated", "beta", 0.0, falling, "program_auroc", SIM_FACTORS, range(5), 0.01, rng))
    table = pd.concat([sim, programs])
    text = "\n".join(program_recovery_markdown(evaluate_programs(table, None)))
    assert text.startswith("## Beyond the preprint: gene programs")
    p1 = text.split("### P1.")[1].split("### P2.")[0]
    assert "**Verdict: not reproduced**" in p1 and "| 1 | 0 | 5 |" in p1  # falls with β: not as predicted
    assert "P2." in text and "no finite `program_auroc`" in text.split("### P2.")[1].split("### P3.")[0]
    assert "**Verdict: not evaluated: no real dataset**" in text.split("### P4.")[1]
    assert claim_verdicts(evaluate_claims(pd.concat([sim, programs]), None))[1] == REPRODUCED

