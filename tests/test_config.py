import copy
from pathlib import Path

import pytest
import yaml

from scbeta.config import ConfigError, expand_runs, group_runs, training_runs, validate
from scbeta.registry import run_name

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_default_config_is_valid(config):
    validate(config, SCHEMA)


def test_default_sweep_is_figure_2(config):
    runs = expand_runs(config)
    simulated = runs[runs["dataset"] == "simulated"]
    preprint = simulated[simulated["objective"].isin(["beta", "capacity"])]
    assert sorted(preprint["beta"].unique()) == [1, 10, 30, 50]
    assert sorted(preprint["c_max"].unique()) == [0, 10]
    assert sorted(preprint["seed"].unique()) == [0, 1, 2]
    assert len(preprint) == 4 * 2 * 3
    assert simulated["run"].is_unique


def test_default_sweep_adds_tc_objectives_and_baselines(config):
    runs = expand_runs(config)
    for dataset in ("simulated", "kang2018"):
        rows = runs[runs["dataset"] == dataset]
        assert sorted(rows.loc[rows["objective"] == "tcvae", "beta"].unique()) == [1, 6]
        assert sorted(rows.loc[rows["objective"] == "factorvae", "gamma"].unique()) == [6, 10]
        assert sorted(rows.loc[rows["method"] != "vae", "method"].unique()) == ["ica", "nmf", "pca"]
    kang = runs[(runs["dataset"] == "kang2018") & (runs["objective"] == "beta")]
    assert sorted(kang["beta"].unique()) == [1, 1.5, 2, 3, 4, 5]


@pytest.mark.parametrize("path, value, message", [
    (("datasets", "simulated", "sweep", 0, "beta"), [0], r"datasets\.simulated\.sweep\.0\.beta\.0 = 0"),
    (("datasets", "simulated", "sweep", 1, "c_max"), [-1], r"datasets\.simulated\.sweep\.1\.c_max\.0 = -1"),
    (("datasets", "simulated", "simulate", "n_cells"), 0, r"datasets\.simulated\.simulate\.n_cells = 0"),
    (("training", "likelihood"), "poisson", r"training\.likelihood = 'poisson'.*'zinb', 'nb'"),
    (("training", "device"), "gpu", r"training\.device = 'gpu'"),
    # The names come from scbeta.registry.
    (("datasets", "simulated", "sweep", 0, "objective"), "vae",
     r"sweep\.0\.objective = 'vae': 'vae' is not one of \['beta', 'capacity', 'tcvae', 'factorvae'\]"),
    (("datasets", "simulated", "baselines"), ["umap"], r"baselines\.0 = 'umap'.*\['pca', 'ica', 'nmf'\]"),
    (("datasets", "simulated", "source"), "csv", r"source = 'csv'.*\['simulate', 'kang2018', 'h5ad'\]"),
])
def test_out_of_range_values_name_the_key(config, path, value, message):
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError, match=message) as error:
        validate(config, SCHEMA)
    assert "\n" not in str(error.value)


def test_unknown_key_is_named_with_the_allowed_ones(config):
    config["training"]["learning_rate"] = 0.1
    with pytest.raises(ConfigError, match=r"config key training: unknown key\(s\) learning_rate; allowed: .*lr"):
        validate(config, SCHEMA)


def test_missing_key_is_named(config):
    del config["seeds"]
    with pytest.raises(ConfigError, match="'seeds' is a required property"):
        validate(config, SCHEMA)


def test_beta_objective_with_capacity_is_refused(config):
    bad = copy.deepcopy(config)
    bad["datasets"]["simulated"]["sweep"] = [{"objective": "beta", "beta": [1], "c_max": [5]}]
    with pytest.raises(ConfigError, match="objective 'beta' takes no c_max"):
        expand_runs(bad)


def test_sweep_entry_options_reach_only_its_runs(config):
    config["datasets"]["simulated"]["sweep"] = [
        {"objective": "factorvae", "gamma": [6, 10], "discriminator_width": 64, "discriminator_precision": "float32"},
        {"objective": "tcvae", "beta": [6], "tc_estimator": "mws"},
        {"objective": "beta", "beta": [1]},
    ]
    validate(config, SCHEMA)
    runs = expand_runs(config).set_index("run")
    simulated = runs[runs["dataset"] == "simulated"]
    assert simulated.loc["factorvae_gamma10_seed0", "objective_params"] == {
        "discriminator_width": 64, "discriminator_precision": "float32", "gamma": 10}
    assert simulated.loc["tcvae_beta6_cmax0_seed2", "objective_params"] == {"tc_estimator": "mws"}
    assert simulated.loc["beta_beta1_cmax0_seed1", "objective_params"] == {}


def test_an_option_of_another_objective_is_refused(config):
    config["datasets"]["simulated"]["sweep"] = [{"objective": "tcvae", "beta": [6], "discriminator_width": 64}]
    validate(config, SCHEMA)
    with pytest.raises(ConfigError, match=r"datasets\.simulated\.sweep\.0: objective 'tcvae' takes no "
                                          r"discriminator_width \(allowed: tc_estimator\)"):
        expand_runs(config)


def test_an_unknown_discriminator_precision_is_refused_at_parse_time(config):
    entry = {"objective": "factorvae", "gamma": [6], "discriminator_precision": "half"}
    config["datasets"]["simulated"]["sweep"] = [entry]
    expected = r"sweep\.0\.discriminator_precision = 'half': 'half' is not one of \['auto', 'float32', 'bfloat16'\]"
    with pytest.raises(ConfigError, match=expected):
        validate(config, SCHEMA)


def test_one_run_with_two_settings_is_refused(config):
    config["datasets"]["simulated"]["sweep"] = [
        {"objective": "factorvae", "gamma": [10]},
        {"objective": "factorvae", "gamma": [6, 10], "discriminator_width": 64},
    ]
    with pytest.raises(ConfigError, match="run factorvae_gamma10_seed0 appears in two entries"):
        expand_runs(config)


def test_max_cells_of_a_simulated_dataset_is_refused(config):
    from scbeta.config import check_datasets

    config["datasets"]["simulated"]["max_cells"] = 100
    validate(config, SCHEMA)
    with pytest.raises(ConfigError, match=r"datasets\.simulated\.max_cells: .*simulate\.n_cells"):
        check_datasets(config)


def test_quick_config_keeps_the_figure_grids_at_a_smaller_size(config):
    from snakemake.utils import update_config

    update_config(config, yaml.safe_load((REPO / "config" / "quick.yaml").read_text()))  # as --configfile does
    validate(config, SCHEMA)
    runs = expand_runs(config)
    simulated, kang = (runs[runs["dataset"] == name] for name in ("simulated", "kang2018"))
    preprint = simulated[simulated["objective"].isin(["beta", "capacity"])]
    assert sorted(preprint["beta"].unique()) == [1, 10, 30, 50] and sorted(preprint["c_max"].unique()) == [0, 10]
    assert sorted(kang.loc[kang["objective"] == "beta", "beta"].unique()) == [1, 1.5, 2, 3, 4, 5]
    assert sorted(runs["seed"].unique()) == [0, 1, 2]
    assert config["datasets"]["simulated"]["simulate"]["n_cells"] < 5000
    assert config["datasets"]["kang2018"]["max_cells"] is not None
    # A shorter KL warm-up or fewer genes collapse β ≥ 10 and turn claim 1a around (benchmarks/README.md).
    assert config["training"]["kl_warmup_epochs"] >= config["training"]["epochs"]
    assert config["datasets"]["simulated"]["simulate"]["n_genes"] >= 2000
    factorvae = runs[runs["objective"] == "factorvae"]
    assert all(params["discriminator_width"] < 1000 for params in factorvae["objective_params"])


def test_disabled_datasets_have_no_runs(config):
    config["datasets"]["simulated"]["enabled"] = False
    runs = expand_runs(config)
    assert not runs.empty and "simulated" not in set(runs["dataset"])


def test_run_names():
    assert run_name("vae", "beta", 10.0, 0.0, 0.0, 2) == "beta_beta10_cmax0_seed2"
    assert run_name("vae", "capacity", 1.5, 10.0, 0.0, 0) == "capacity_beta1.5_cmax10_seed0"
    assert run_name("vae", "tcvae", 6.0, 0.0, 0.0, 1) == "tcvae_beta6_cmax0_seed1"
    assert run_name("vae", "factorvae", 1.0, 0.0, 10.0, 0) == "factorvae_gamma10_seed0"
    assert run_name("pca", "", 0, 0, 0, 1) == "pca_seed1"


def _sweep(config, *entries, seeds=(0, 1)):
    config["seeds"] = list(seeds)
    config["datasets"]["simulated"]["sweep"] = list(entries)
    config["datasets"]["kang2018"]["enabled"] = False
    validate(config, SCHEMA)
    return expand_runs(config)


def test_runs_are_grouped_by_objective_in_sweep_order(config):
    runs = _sweep(config, {"objective": "beta", "beta": [1, 10, 30]}, {"objective": "tcvae", "beta": [6]},
                  {"objective": "beta", "beta": [50]})
    grouped = group_runs(runs, 4).set_index("run")["group"]
    assert grouped.to_dict() == {
        "beta_beta1_cmax0_seed0": "beta_g0", "beta_beta1_cmax0_seed1": "beta_g0",
        "beta_beta10_cmax0_seed0": "beta_g0", "beta_beta10_cmax0_seed1": "beta_g0",
        "beta_beta30_cmax0_seed0": "beta_g1", "beta_beta30_cmax0_seed1": "beta_g1",
        "beta_beta50_cmax0_seed0": "beta_g1", "beta_beta50_cmax0_seed1": "beta_g1",
        "tcvae_beta6_cmax0_seed0": "tcvae_g0", "tcvae_beta6_cmax0_seed1": "tcvae_g0",
        "pca_seed0": "", "pca_seed1": "", "ica_seed0": "", "ica_seed1": "", "nmf_seed0": "", "nmf_seed1": "",
    }


@pytest.mark.parametrize("models_per_job, sizes", [(1, [1] * 16), (5, [5, 5, 5, 1]), (8, [8, 8]), (30, [16])])
def test_groups_hold_at_most_models_per_job_runs_of_one_objective(config, models_per_job, sizes):
    runs = _sweep(config, {"objective": "beta", "beta": [1, 10, 30, 50]},
                  {"objective": "capacity", "beta": [1, 10, 30, 50], "c_max": [5, 10]})
    grouped = group_runs(runs, models_per_job)
    vae = grouped[grouped["method"] == "vae"]
    assert vae.groupby("group")["objective"].nunique().eq(1).all()
    capacity = vae[vae["objective"] == "capacity"]
    assert capacity.groupby("group", sort=False).size().tolist() == sizes
    assert capacity["group"].unique().tolist() == [f"capacity_g{k}" for k in range(len(sizes))]  # in sweep order
    assert grouped[["dataset", "run"]].equals(runs[["dataset", "run"]])


def test_fixed_options_split_an_objective_and_gamma_does_not(config):
    runs = _sweep(config, {"objective": "factorvae", "gamma": [6, 10], "discriminator_width": 64},
                  {"objective": "factorvae", "gamma": [20], "discriminator_width": 32})
    grouped = group_runs(runs, 8)
    factorvae = grouped[grouped["objective"] == "factorvae"].set_index("run")
    assert factorvae["group"].to_dict() == {
        "factorvae_gamma6_seed0": "factorvae_g0", "factorvae_gamma6_seed1": "factorvae_g0",
        "factorvae_gamma10_seed0": "factorvae_g0", "factorvae_gamma10_seed1": "factorvae_g0",
        "factorvae_gamma20_seed0": "factorvae_g1", "factorvae_gamma20_seed1": "factorvae_g1"}
    members = grouped[grouped["group"] == "factorvae_g0"]
    assert training_runs(members)[2] == {"objective": "factorvae", "beta": 1.0, "c_max": 0.0, "seed": 0,
                                         "objective_params": {"discriminator_width": 64, "gamma": 10.0}}


def test_group_names_do_not_depend_on_other_datasets_or_objectives(config):
    beta = {"objective": "beta", "beta": [1, 10]}
    alone = group_runs(_sweep(copy.deepcopy(config), beta), 3)
    config["datasets"]["other"] = {**copy.deepcopy(config["datasets"]["simulated"]), "sweep": [beta]}
    mixed = group_runs(_sweep(config, {"objective": "tcvae", "beta": [6]}, beta), 3)
    assert set(mixed["dataset"]) == {"simulated", "other"}
    for dataset in ("simulated", "other"):
        rows = mixed[(mixed["dataset"] == dataset) & (mixed["objective"] == "beta")]
        assert rows.set_index("run")["group"].to_dict() == alone[alone["objective"] == "beta"].set_index("run")[
            "group"].to_dict() == {"beta_beta1_cmax0_seed0": "beta_g0", "beta_beta1_cmax0_seed1": "beta_g0",
                                   "beta_beta10_cmax0_seed0": "beta_g0", "beta_beta10_cmax0_seed1": "beta_g1"}


def test_models_per_job_must_be_a_positive_integer(config):
    config["training"]["models_per_job"] = 0
    with pytest.raises(ConfigError, match=r"training\.models_per_job = 0: 0 is less than the minimum of 1"):
        validate(config, SCHEMA)


def _layered(config, overrides):
    from snakemake.utils import update_config

    layered = copy.deepcopy(config)
    update_config(layered, overrides)
    return layered


def test_reduced_configuration_names_what_is_smaller(config):
    from scbeta.config import reduced_configuration

    assert reduced_configuration(config, config) == ""
    # A change that does not set the study's size is no reduction.
    assert reduced_configuration(config, _layered(config, {"evaluation": {"neighbors_method": "gauss"}})) == ""
    quick = yaml.safe_load((REPO / "config" / "quick.yaml").read_text())
    note = reduced_configuration(config, _layered(config, quick))
    assert note.startswith("Reduced configuration: simulated: 2,000 cells × 2,000 genes (default 5,000 × 2,000)")
    assert "kang2018: 500 variable genes (default 2,000), at most 2,000 cells (default all)" in note
    assert "200 epochs (default scVI's heuristic, up to 400)" in note
    assert "KL warm-up over 200 epochs (default 400)" in note and "hidden units" not in note
    assert note.endswith("the full study's answers may differ.")
    tiny = _layered(config, {"seeds": [0, 1], "datasets": {"simulated": {"sweep": [
        {"objective": "beta", "beta": [1, 10]}]}, "kang2018": {"enabled": False}}})
    note = reduced_configuration(config, tiny)
    assert note == ("Reduced configuration: simulated: 2 sweep settings (default 12); 2 seeds (default 3); "
                    "the full study's answers may differ.")


def test_each_figure_shows_its_own_datasets_betas(config):
    from scbeta.config import figure_betas, figure_runs

    runs = expand_runs(config)
    assert figure_runs(config, runs, "simulated") == ["beta_beta1_cmax0_seed0", "beta_beta10_cmax0_seed0"]
    assert figure_runs(config, runs, "kang2018") == ["beta_beta1_cmax0_seed0", "beta_beta2_cmax0_seed0"]
    # Unset: the ends of the dataset's own β-VAE sweep, not capacity's (C_max > 0) or β-TCVAE's β.
    config["datasets"]["kang2018"].pop("figure_betas")
    config["datasets"]["kang2018"]["sweep"] = [{"objective": "beta", "beta": [3, 1.5, 7, 2]},
                                               {"objective": "capacity", "beta": [0.5, 9], "c_max": [5]},
                                               {"objective": "tcvae", "beta": [12]}]
    runs = expand_runs(config)
    assert figure_betas(config, runs, "kang2018") == [1.5, 7.0]
    assert figure_runs(config, runs, "kang2018") == ["beta_beta1.5_cmax0_seed0", "beta_beta7_cmax0_seed0"]
    config["datasets"]["kang2018"]["sweep"] = [{"objective": "beta", "beta": [4]}]
    assert figure_betas(config, expand_runs(config), "kang2018") == [4.0]
    config["datasets"]["kang2018"]["sweep"] = [{"objective": "tcvae", "beta": [6]}]
    assert figure_betas(config, expand_runs(config), "kang2018") == []


def test_beta_vae_runs_are_objective_beta_without_capacity():
    import numpy as np
    import pandas as pd

    from scbeta.registry import is_beta_vae

    table = pd.DataFrame({"objective": ["beta", "beta", "capacity", "capacity", "tcvae", ""],
                          "c_max": [0.0, np.nan, 0.0, 10.0, 0.0, np.nan]})
    assert is_beta_vae(table).tolist() == [True, True, False, False, False, False]


def test_training_keywords_are_what_fit_many_takes(config):
    from scbeta.config import training_keywords
    from scbeta.model import TRAINING_DEFAULTS

    keywords = training_keywords(config)
    assert set(keywords) <= set(TRAINING_DEFAULTS)
    assert set(config["training"]) - set(keywords) == {"threads", "models_per_job"}
