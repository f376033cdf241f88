"""The registry of names agrees with the code behind each name, and one entry there is what a new name needs."""
from __future__ import annotations

import copy
import inspect
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from scbeta import registry
from scbeta.config import ConfigError, expand_runs, validate

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def test_every_registered_objective_has_a_class_that_takes_its_weights_and_options():
    from scbeta.objectives import OBJECTIVES

    assert set(OBJECTIVES) == set(registry.OBJECTIVES)
    for name, info in registry.OBJECTIVES.items():
        accepted = set(inspect.signature(OBJECTIVES[name]).parameters)
        # fit passes β itself and turns C_max into the capacity schedule; other weights go to the class.
        expected = {key for key in info.weights if key != "c_max"} | set(info.options)
        assert expected <= accepted, f"{name}: {sorted(expected - accepted)} not taken by {OBJECTIVES[name].__name__}"


def test_every_registered_baseline_and_source_has_its_code():
    from scbeta.baselines import METHODS

    assert METHODS == tuple(registry.BASELINES)
    rules = "".join(path.read_text() for path in (REPO / "workflow" / "rules").glob("*.smk"))
    made_by_rules = set(re.findall(r'datasets_from\("(\w+)"\)', rules))
    assert made_by_rules == set(registry.SOURCES)
    assert set(registry.REAL_SOURCES) | set(registry.SIMULATED_SOURCES) == set(registry.SOURCES)


def test_the_schema_takes_its_name_enums_from_the_registry_only():
    definitions = yaml.safe_load(SCHEMA.read_text())["definitions"]
    for name in registry.schema_enums():
        assert "enum" not in definitions[name], f"{name} in {SCHEMA.name} would be a second copy of the registry"
    text = SCHEMA.read_text()
    for names in (registry.OBJECTIVES, registry.BASELINES):
        assert not any(re.search(rf"\benum: \[[^]]*\b{name}\b", text) for name in names)


def test_every_metric_a_table_holds_is_registered_with_a_label_and_range():
    from scbeta import plots

    for name, info in registry.METRICS.items():
        assert plots.METRIC_LABELS[name] == info.label
        low, high = info.range
        assert low < high
    assert set(registry.metrics_of("disentanglement")) <= set(plots.AGGREGATE_METRICS)


def test_a_registered_objective_is_accepted_by_the_config_check_and_trained_by_name(monkeypatch):
    """A new objective is an entry in `scbeta.registry.OBJECTIVES` (config check, run names, figure labels)
    and its class in `scbeta.objectives.OBJECTIVES` (training); nothing else is needed to run it."""
    from scbeta import objectives

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"]["simulated"]["sweep"] = [{"objective": "toy", "gamma": [2, 4], "tc_estimator": "mss"}]
    config["datasets"] = {"simulated": config["datasets"]["simulated"]}
    with pytest.raises(ConfigError, match="toy"):
        validate(copy.deepcopy(config), SCHEMA)

    class ToyObjective(objectives.BetaVAE):
        name = "toy"

        def __init__(self, gamma: float = 1.0, tc_estimator: str = "mss") -> None:
            super().__init__(beta=gamma)

    monkeypatch.setitem(registry.OBJECTIVES, "toy",
                        registry.ObjectiveInfo("toy", "Toy", {"gamma": "γ"}, options=("tc_estimator",)))
    monkeypatch.setitem(objectives.OBJECTIVES, "toy", ToyObjective)
    validate(config, SCHEMA)
    runs = expand_runs(config)
    toy = runs[runs["objective"] == "toy"]
    assert sorted(toy["run"].str.replace(r"_seed\d+$", "", regex=True).unique()) == ["toy_gamma2", "toy_gamma4"]
    # The runs table hands each run its objective's keywords: the fixed option and its own γ.
    assert [params for params in toy["objective_params"]] == [
        {"tc_estimator": "mss", "gamma": gamma} for gamma in toy["gamma"]]
    assert objectives.make_objective("toy", gamma=4.0, tc_estimator="mss").beta == 4.0


def test_a_registered_metric_is_computed_by_all_scores(monkeypatch):
    """A new score is its function, an entry in `scbeta.metrics.scores.SCORES` and one in
    `scbeta.registry.METRICS` (its label, direction and range for tables and figures)."""
    from scbeta.metrics import all_scores, scores

    rng = np.random.default_rng(0)
    factors = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    latent = factors.to_numpy()

    def first_dim_variance(latent: np.ndarray, factors: pd.DataFrame, *, seed: int = 0) -> float:
        return float(np.var(latent[:, 0]))

    monkeypatch.setitem(scores.SCORES, "toy_variance", first_dim_variance)
    with pytest.raises(ValueError, match=r"\['toy_variance'\] are not in scbeta.registry.METRICS"):
        all_scores(latent, factors)
    monkeypatch.setitem(registry.METRICS, "toy_variance",
                        registry.MetricInfo("toy_variance", "Variance of dim 0", "disentanglement", None,
                                            (0.0, np.inf)))
    result = all_scores(latent, factors)
    assert result["toy_variance"] == pytest.approx(np.var(factors["a"]))
    assert list(result)[-1] == "toy_variance"


@pytest.mark.parametrize("objective", [name for name, info in registry.OBJECTIVES.items() if "c_max" not in info.weights])
def test_an_objective_without_capacity_refuses_c_max(objective):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"]["simulated"]["sweep"] = [{"objective": objective, "beta": [1], "gamma": [1], "c_max": [5]}]
    with pytest.raises(ConfigError, match=rf"objective '{objective}' takes no c_max > 0; use objective 'capacity'"):
        expand_runs(config)
