"""Claims evaluation on made-up metric tables whose answer is known."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from scbeta.claims import (COLUMNS, COMPARISONS, DEPENDS, INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, STANDS,
                           claim_verdict, claims_html, claims_markdown, claims_summary_rst, decide, evaluate_claims,
                           seed_subsets, stability, verdict, verdict_text)
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


@pytest.mark.parametrize("values, bounds", [([0.95, 0.99, 0.999], (-np.inf, 1.0)), ([0.01, 0.2, 0.001], (0.0, np.inf)),
                                            ([-0.5, 0.9, 0.99], (-np.inf, 1.0))])
def test_one_sided_range_keeps_its_finite_end(values, bounds):
    # DCI informativeness is at most 1 but has no lower bound: the interval stops short of 1 only.
    interval = mean_ci(values, bounds=bounds)
    assert bounds[0] <= interval.low < interval.high <= bounds[1]
    assert interval.low <= max(values) and interval.high >= min(values)


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
    assert set(table["comparison"].astype(str)) == {"1a", "1b", "1c", "2a", "2b", "3", "P1", "P2", "P3", "P4"}


def test_collapsed_models_are_counted_and_their_alignment_marked_not_interpretable():
    # β ≥ 10 collapsed (fewer than 2 active dimensions) in every seed; β = 1 uses 8 dimensions.
    active = {1.0: 8.0, 10.0: 0.0, 30.0: 1.0, 50.0: 0.0}
    falling = dict(zip(SIM_BETAS, (0.60, 0.20, 0.15, 0.12)))
    result = evaluate_claims(simulated_table(falling, active=active), None)
    one_a = result[result["comparison"] == "1a"].set_index("beta")
    assert one_a.loc[1.0, "active_units"] == 8.0 and one_a.loc[1.0, "n_collapsed"] == 0
    assert one_a.loc[10.0, "active_units"] == 0.0 and one_a.loc[10.0, "n_collapsed"] == 5
    assert list(one_a["level_collapsed"]) == [False, True, True, True]
    text = claims_markdown(result)
    assert "| 1 | 0 | 5 | 8.0 (0) |" in text and "| 10 | 0 | 5 | 0.0 (5) |" in text
    beta10 = next(line for line in text.splitlines() if line.startswith("| 10 | 0 | 5 | 0.0 (5) |"))
    assert "not interpretable (collapsed)" in beta10
    beta1 = next(line for line in text.splitlines() if line.startswith("| 1 | 0 | 5 | 8.0 (0) |"))
    assert "not interpretable" not in beta1


def _one_a(means: dict[float, float], active: dict[float, float]) -> pd.Series:
    result = evaluate_claims(simulated_table(means, active=active), None)
    return result[result["comparison"] == "1a"].iloc[0]


COLLAPSED_ABOVE_10 = {1.0: 9.0, 10.0: 6.0, 30.0: 0.0, 50.0: 0.0}


def test_no_collapsed_level_adds_no_qualifier():
    row = _one_a(RISING_SIM, dict.fromkeys(SIM_BETAS, 9.0))
    assert (row["verdict"], row["collapse"], row["without_collapsed"]) == (REPRODUCED, "", "")
    assert "collapsed" not in verdict_text(pd.DataFrame([row]), COMPARISONS[0], short=True)


def test_verdict_that_stands_without_collapsed_levels_names_them():
    # β = 10 (healthy) rises clearly; the collapsed β = 30 and 50 rise too, but the verdict does not need them.
    row = _one_a(dict(zip(SIM_BETAS, (0.45, 0.60, 0.58, 0.57))), COLLAPSED_ABOVE_10)
    assert (row["verdict"], row["collapse"], row["without_collapsed"]) == (REPRODUCED, STANDS, REPRODUCED)
    result = evaluate_claims(simulated_table(dict(zip(SIM_BETAS, (0.45, 0.60, 0.58, 0.57))),
                                             active=COLLAPSED_ABOVE_10), None)
    text = claims_markdown(result)
    assert "| reproduced (stands without the levels set aside as collapsed: β = 30, 50) |" in text
    assert "depends on collapsed" not in text.split("## Claim 1")[1].split("### 1b.")[0]


def test_verdict_against_the_claim_stands_although_collapsed_levels_argue_for_it():
    # The deciding level β = 10 falls significantly; the collapsed levels rise. Leaving them out changes nothing.
    row = _one_a(dict(zip(SIM_BETAS, (0.45, 0.40, 0.60, 0.60))), COLLAPSED_ABOVE_10)
    assert (row["verdict"], row["collapse"]) == (NOT_REPRODUCED, STANDS)


def test_verdict_that_rests_on_collapsed_levels_says_it_depends_on_them():
    # Only the collapsed β = 30 and 50 rise; the healthy β = 10 is flat.
    means = dict(zip(SIM_BETAS, (0.45, 0.45, 0.60, 0.62)))
    row = _one_a(means, COLLAPSED_ABOVE_10)
    assert (row["verdict"], row["collapse"], row["without_collapsed"]) == (REPRODUCED, DEPENDS, NOT_REPRODUCED)
    text = claims_markdown(evaluate_claims(simulated_table(means, active=COLLAPSED_ABOVE_10), None))
    assert "| reproduced (depends on collapsed models: without β = 30, 50, not reproduced) |" in text


def test_decide_redoes_holm_over_the_levels_left():
    # Two levels at p = 0.03: with both, Holm gives 0.06 (not significant); the level left alone is significant.
    assert decide([3, 3], [3, 3], [0.03, 0.03], [0.97, 0.97], [False, False]).verdict == NOT_REPRODUCED
    decision = decide([3, 3], [3, 3], [0.03, 0.03], [0.97, 0.97], [False, True])
    assert (decision.verdict, decision.without_collapsed, decision.collapse) == (NOT_REPRODUCED, REPRODUCED, DEPENDS)
    every = decide([3], [3], [0.001], [0.999], [True])
    assert every.collapse == DEPENDS and every.without_collapsed.startswith("not evaluated")


def test_stability_counts_seed_subsets_that_agree():
    assert seed_subsets(range(3)) == [] and len(seed_subsets(range(5))) == 10 and len(seed_subsets(range(4))) == 4
    drawn = seed_subsets(range(20))  # C(20, 3) = 1140 subsets: a fixed draw of 200 distinct ones
    assert len(drawn) == len(set(drawn)) == 200 and drawn == seed_subsets(range(20))
    clear = evaluate_claims(simulated_table(RISING_SIM, seeds=range(5)), None)
    one_a = clear[clear["comparison"] == "1a"].iloc[0]
    assert one_a["n_subsets"] == 10 and one_a["stability"] == 1.0 and one_a["claim_stability"] == 1.0
    # A small rise buried in noise: the 5-seed verdict is not what every 3-seed subset finds.
    noisy = evaluate_claims(simulated_table(dict(zip(SIM_BETAS, (0.45, 0.47, 0.47, 0.47))), seeds=range(5),
                                            noise=0.05, seed=4), None)
    share = noisy[noisy["comparison"] == "1a"]["stability"].iloc[0]
    assert 0.0 < share < 1.0 and (share * 10) == pytest.approx(round(share * 10))
    three = evaluate_claims(simulated_table(RISING_SIM, seeds=range(3)), None)
    assert np.isnan(three["stability"].iloc[0]) and three["n_subsets"].iloc[0] == 0
    assert "cannot be assessed with 3 seeds" in claims_markdown(three)
    assert stability(REPRODUCED, [REPRODUCED, NOT_REPRODUCED, REPRODUCED, REPRODUCED]) == 0.75


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



# --- against the full-size reference ---------------------------------------------------------------

def test_reference_section_sets_a_tiny_run_beside_a_fixture_reference(tmp_path):
    from scbeta._io import read_tsv, write_tsv
    from scbeta.claims import write_claims

    # The reference: 5 seeds, a clear rise at every β. Its claims table is all the comparison reads.
    reference = tmp_path / "reference"
    reference.mkdir()
    write_tsv(simulated_table(RISING_SIM, RISING_CAPACITY, seeds=range(5)), tmp_path / "ref_all.tsv")
    write_claims(tmp_path / "ref.md", reference / "claims.tsv", simulated=tmp_path / "ref_all.tsv")
    # This run: 3 seeds, β = 50 far above the reference's seeds; a real dataset the reference never saw.
    write_tsv(simulated_table({**RISING_SIM, 50.0: 0.80}, RISING_CAPACITY, seeds=range(3), seed=7), tmp_path / "all.tsv")
    write_tsv(real_table(**RISING_REAL), tmp_path / "real.tsv")
    write_claims(tmp_path / "claims.md", tmp_path / "claims.tsv", simulated=tmp_path / "all.tsv",
                 real=tmp_path / "real.tsv", summary=tmp_path / "summary.rst", reference=reference)
    text = (tmp_path / "claims.md").read_text()
    section = text.split("## Against the full-size reference")[1].split("\n## ")[0]
    assert "| 1a | `simulated` | reproduced | reproduced | yes |" in section
    assert "| 2a | `kang2018` | reproduced | – | no reference |" in section
    assert "No full-size reference for `kang2018`" in section
    beta50 = next(line for line in section.splitlines() if line.startswith("| 1a | 50 | 0 |"))
    assert "**above**" in beta50 and "(5 seeds)" in beta50
    # β = 1: the same expected value in both runs, so this run's mean lies within the reference seeds' range
    # unless noise puts it just outside; the mark follows the numbers either way.
    reference_table, ours = read_tsv(reference / "claims.tsv"), read_tsv(tmp_path / "claims.tsv")
    for beta in (1.0, 10.0):
        line = next(line for line in section.splitlines() if line.startswith(f"| 1a | {beta:g} | 0 |"))
        ref = reference_table[(reference_table["comparison"] == "1a") & (reference_table["beta"] == beta)].iloc[0]
        mean = ours[(ours["comparison"] == "1a") & (ours["beta"] == beta)]["mean"].iloc[0]
        assert f"{ref['mean']:.3f} ± {ref['sd']:.3f} [{ref['seed_min']:.3f}, {ref['seed_max']:.3f}]" in line
        expected = "**below**" if mean < ref["seed_min"] else "**above**" if mean > ref["seed_max"] else "inside"
        assert line.endswith(f"| {expected} |")
    assert "Against the full-size reference" in (tmp_path / "summary.rst").read_text()

    write_claims(tmp_path / "alone.md", simulated=tmp_path / "all.tsv", reference=tmp_path / "nowhere")
    assert "No full-size reference was found (`" in (tmp_path / "alone.md").read_text()
    write_claims(tmp_path / "none.md", simulated=tmp_path / "all.tsv", reference=None)
    assert "No full-size reference is configured (`reference: null`)" in (tmp_path / "none.md").read_text()
