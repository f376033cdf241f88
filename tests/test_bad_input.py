"""Bad input met through the package: each stops with one line naming the key, file, column or value."""
import copy
import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml

import scbeta
from geo_fixture import write_geo_layout
from scbeta import plots
from scbeta._io import atomic_path, read_tsv, remove_stale_parts, write_tsv
from scbeta.config import (
    ConfigError,
    check_datasets,
    check_figures,
    coerce_numbers,
    expand_runs,
    group_runs,
    load_config_file,
    validate,
)
from scbeta.data import SourceFileError, read_kang2018
from scbeta.download import MANIFEST_NAME, IntegrityError, fetch_kang2018, read_manifest
from scbeta.metrics import active_units, latent_activity
from scbeta.pipeline import evaluate
from scbeta.pipeline import data as data_steps

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
MATRIX = "GSM2560248_2.1.mtx.gz"
FAST = {"n_hidden": 16, "batch_size": 64, "device": "cpu", "kl_warmup_epochs": 0}


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def _one_line(error) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


# --- config --------------------------------------------------------------------------------------

def test_numeric_strings_become_numbers_before_validation(config):
    config["training"]["lr"] = "1e-3"  # what YAML 1.1 makes of `lr: 1e-3`
    config["datasets"]["simulated"]["sweep"][0]["beta"] = ["5e-1", 10]
    config["training"]["n_latent"] = "1e1"
    coerce_numbers(config, SCHEMA)
    validate(config, SCHEMA)
    assert config["training"]["lr"] == 0.001 and config["datasets"]["simulated"]["sweep"][0]["beta"] == [0.5, 10]
    assert config["training"]["n_latent"] == 10 and isinstance(config["training"]["n_latent"], int)


@pytest.mark.parametrize("text", ["fast", "nan", "inf"])
def test_a_string_that_is_no_number_is_still_refused(config, text):
    config["training"]["lr"] = text
    config["training"]["device"] = "cpu"  # a string key stays a string
    coerce_numbers(config, SCHEMA)
    with pytest.raises(ConfigError, match=rf"training\.lr = '{text}'"):
        validate(config, SCHEMA)
    assert config["training"]["device"] == "cpu"


def test_a_whole_float_for_an_integer_key_is_that_integer(config):
    config["training"]["models_per_job"] = 2.0
    config["seeds"] = [0.0, 1]
    config["training"]["lr"] = 1.0  # a number key keeps its float
    coerce_numbers(config, SCHEMA)
    validate(config, SCHEMA)
    assert config["training"]["models_per_job"] == 2 and isinstance(config["training"]["models_per_job"], int)
    assert [type(seed) for seed in config["seeds"]] == [int, int] and isinstance(config["training"]["lr"], float)
    runs = group_runs(expand_runs(config), config["training"]["models_per_job"])
    assert runs[runs["group"] != ""].groupby(["dataset", "group"]).size().max() == 2
    config["training"]["models_per_job"] = 2.5
    coerce_numbers(config, SCHEMA)
    with pytest.raises(ConfigError) as error:
        validate(config, SCHEMA)
    assert _one_line(error) == "config key training.models_per_job = 2.5: 2.5 is not of type 'integer'"


def test_n_latent_larger_than_the_simulated_genes_is_refused(config):
    config["training"]["n_latent"] = 80
    config["datasets"]["simulated"]["simulate"]["n_genes"] = 60
    with pytest.raises(ConfigError) as error:
        check_datasets(config)
    assert _one_line(error) == ("config key training.n_latent = 80: dataset 'simulated' has only 60 genes "
                                "(datasets.simulated.simulate.n_genes); n_latent must be at most the number of genes")


@pytest.mark.parametrize("n_latent, key, size, message", [
    (30, "n_top_genes", 20, r"training\.n_latent = 30: dataset 'kang2018' has only 20 genes \(datasets\.kang2018\.n_top_genes\)"),
    (10, "max_cells", 8, r"training\.n_latent = 10: the pca baseline of dataset 'kang2018' needs at least n_latent "
                         r"cells, but it has 8 \(datasets\.kang2018\.max_cells\)"),
])
def test_n_latent_beyond_the_genes_or_cells_of_real_data_is_refused(config, n_latent, key, size, message):
    config["training"]["n_latent"] = n_latent
    config["datasets"]["simulated"]["enabled"] = False
    config["datasets"]["kang2018"][key] = size
    with pytest.raises(ConfigError, match=message):
        check_datasets(config)


def test_few_cells_are_enough_without_baselines(config):
    config["datasets"]["simulated"]["enabled"] = False
    config["datasets"]["kang2018"].update(max_cells=8, baselines=[])
    check_datasets(config)


def test_figure_beta_outside_the_sweep_is_refused(config):
    config["datasets"]["simulated"]["sweep"] = [{"objective": "beta", "beta": [2]}]
    runs = expand_runs(config)
    with pytest.raises(ConfigError) as error:
        check_figures(config, runs, "simulated", [])
    assert _one_line(error) == ("config key datasets.simulated.figure_betas: β 1, 10 not in the β-VAE sweep of "
                                "dataset 'simulated' (β: 2); choose values from that sweep")
    config["datasets"]["simulated"]["figure_betas"] = [2]
    check_figures(config, runs, "simulated", [])
    config["datasets"]["pbmc"] = {**config["datasets"]["simulated"], "figure_betas": [1]}
    pbmc = runs[runs["dataset"] == "simulated"].assign(dataset="pbmc")
    with pytest.raises(ConfigError, match=r"datasets\.pbmc\.figure_betas: β 1 not in the β-VAE sweep of dataset "
                                          r"'pbmc' \(β: 2\)"):
        check_figures(config, pbmc, None, ["pbmc"])


def test_default_and_quick_configs_show_swept_betas(config):
    from snakemake.utils import update_config

    check_figures(config, expand_runs(config), "simulated", ["kang2018"])
    update_config(config, yaml.safe_load((REPO / "config" / "quick.yaml").read_text()))
    check_figures(config, expand_runs(config), "simulated", ["kang2018"])


def test_one_simulated_identity_is_refused(config):
    config["datasets"]["simulated"]["simulate"]["n_identities"] = 1
    config["datasets"]["simulated"]["factors"] = ["identity_00"]
    with pytest.raises(ConfigError, match=r"datasets\.simulated\.simulate\.n_identities = 1: the identity scores "
                                          r"need at least 2 identities"):
        check_datasets(config)


def test_gene_set_for_a_simulated_program_is_refused(config):
    config["datasets"]["simulated"]["gene_sets"] = {
        "activity_00": {"path": "workflow/resources/ifn_genes.txt", "source": "MSigDB"}}
    validate(config, SCHEMA)
    with pytest.raises(ConfigError) as error:
        check_datasets(config)
    assert _one_line(error) == ("config key datasets.simulated.gene_sets.activity_00: a simulated program is scored "
                                "against the genes the simulator made it with, not a gene set; remove this entry")


def _user_config(config, path, factors, identity="identity"):
    config["datasets"] = {"mine": {"source": "h5ad", "path": str(path), "factors": factors, "identity": identity,
                                   "sweep": [{"objective": "beta"}]}}
    validate(config, SCHEMA)
    return config


def test_one_identity_label_in_a_users_h5ad_is_refused(config, small_counts, tmp_path):
    data = small_counts.copy()
    data.obs["cell_type"] = "B cells"
    data.write_h5ad(tmp_path / "mine.h5ad")
    _user_config(config, tmp_path / "mine.h5ad", ["activity_00"], identity="cell_type")
    with pytest.raises(ValueError) as error:
        check_datasets(config)
    assert _one_line(error) == (f"dataset 'mine' ({tmp_path / 'mine.h5ad'}): identity column 'cell_type' holds "
                                "only the label 'B cells'; clustering and identity scores need at least 2 labels (set "
                                "identity: null to skip them)")


def test_integer_factor_must_be_declared(config, small_counts, tmp_path):
    data = small_counts.copy()
    data.obs["donor"] = np.resize(np.array([101, 102, 107, 1015]), data.n_obs)
    data.obs["dose"] = np.resize(np.arange(40), data.n_obs)  # many values: numeric
    data.obs["treated"] = np.resize(np.array([0, 1]), data.n_obs)
    data.write_h5ad(tmp_path / "mine.h5ad")
    _user_config(config, tmp_path / "mine.h5ad", ["donor", "dose", "treated"])
    with pytest.raises(ValueError) as error:
        check_datasets(config)
    assert _one_line(error).endswith("factor 'donor' holds 4 distinct integers (101, 102, 107, 1015), probably a "
                                     "categorical label; declare its type in the config: factors: {donor: "
                                     "categorical} (or numeric)")
    _user_config(config, tmp_path / "mine.h5ad", {"donor": "categorical", "dose": "numeric", "treated": "numeric"})
    check_datasets(config)
    _user_config(config, tmp_path / "mine.h5ad", {"identity": "numeric"})
    with pytest.raises(ValueError, match="factor 'identity' is declared numeric but holds '"):
        check_datasets(config)


def test_n_latent_larger_than_the_genes_of_a_users_h5ad_is_refused(config, small_counts, tmp_path):
    small_counts.write_h5ad(tmp_path / "mine.h5ad")
    _user_config(config, tmp_path / "mine.h5ad", ["activity_00"])
    config["training"]["n_latent"] = 151
    with pytest.raises(ConfigError, match=rf"n_latent = 151: dataset 'mine' has only 150 genes \(the genes of "
                                          rf"{tmp_path / 'mine.h5ad'}\)"):
        check_datasets(config)


def test_an_empty_users_h5ad_is_named_empty_before_its_labels_are_checked(config, small_counts, tmp_path):
    path = tmp_path / "mine.h5ad"
    small_counts[:0].copy().write_h5ad(path)
    _user_config(config, path, ["activity_00"])
    with pytest.raises(ValueError) as error:
        check_datasets(config)
    assert _one_line(error) == f"dataset 'mine' ({path}): the count matrix is empty (0 cells × 150 genes)"


def test_broken_yaml_names_the_file_line_and_column(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("training:\n  lr: [1e-3\n")
    with pytest.raises(ConfigError) as error:
        load_config_file(bad)
    assert _one_line(error).startswith(f"{bad}, line 3, column 1: not valid YAML: expected ',' or ']'")
    result = subprocess.run([sys.executable, "-m", "scbeta.config", str(bad), str(REPO / "config.yaml")],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert result.returncode == 1
    assert result.stderr.strip() == str(error.value)
    assert result.stdout.strip() == f"{REPO / 'config.yaml'}: valid YAML"


# --- package API ---------------------------------------------------------------------------------

@pytest.mark.parametrize("subset, keywords, message", [
    (slice(None), {"n_latent": 0}, "n_latent must be at least 1, got 0"),
    (slice(None), {"batch_size": 1}, r"batch_size must be at least 2 \(cells per minibatch\), got 1"),
    (slice(0, 1), {}, "adata must hold at least 2 cells to train on, got 1"),
])
def test_fit_refuses_what_cannot_train(small_counts, subset, keywords, message):
    with pytest.raises(ValueError, match=message):
        scbeta.fit(small_counts[subset].copy(), epochs=1, **{**FAST, **keywords})


# --- GEO files -----------------------------------------------------------------------------------

@pytest.fixture
def flat(tmp_path):
    return write_geo_layout(tmp_path / "flat", n_cells_per_sample=40, n_genes=60, flat=True)


def _write_gzip(path: Path, text: str) -> None:
    with gzip.open(path, "wt") as handle:
        handle.write(text)


def _matrix_text(flat) -> str:
    with gzip.open(flat.files[MATRIX], "rt") as handle:
        return handle.read()


def _garbage(flat) -> None:
    _write_gzip(flat.files[MATRIX], "".join(chr(c) for c in np.random.default_rng(0).integers(97, 123, 5000)))


def _truncated(flat) -> None:
    lines = _matrix_text(flat).splitlines(keepends=True)
    _write_gzip(flat.files[MATRIX], "".join(lines[: len(lines) // 2]))


def _bad_value(flat) -> None:
    lines = _matrix_text(flat).splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if not line.startswith("%")) + 1
    row, col, _ = lines[first].split()
    lines[first] = f"{row} {col} many\n"
    _write_gzip(flat.files[MATRIX], "".join(lines))


@pytest.mark.parametrize("damage, detail", [
    (_garbage, "Missing banner"),
    (_truncated, "Truncated file"),
    (_bad_value, "Line"),
])
def test_unreadable_matrix_names_the_file(flat, damage, detail):
    damage(flat)
    with pytest.raises(SourceFileError) as error:
        read_kang2018(flat.root)
    message = _one_line(error)
    assert message.startswith(f"{flat.files[MATRIX]}: not a readable MatrixMarket count matrix (")
    assert detail in message and error.value.path == flat.files[MATRIX]


def test_changed_local_file_is_copied_again_and_the_mismatch_says_how_to_accept_it(flat, tmp_path):
    dest = tmp_path / "raw"
    fetch_kang2018(dest, local_dir=flat.root)
    recorded = read_manifest(dest / MANIFEST_NAME)[MATRIX]
    _truncated(flat)
    source = flat.files[MATRIX]
    os.utime(source, (time.time() + 5, time.time() + 5))
    with pytest.raises(IntegrityError) as error:
        fetch_kang2018(dest, local_dir=flat.root)
    manifest = dest / MANIFEST_NAME
    assert _one_line(error).endswith(f"{source} changed since it was recorded; to use the new file, delete the line "
                                     f"of {MATRIX} from {manifest} and rerun.")
    assert recorded.sha256 in str(error.value)
    lines = [line for line in manifest.read_text().splitlines() if not line.startswith(MATRIX)]
    manifest.write_text("\n".join(lines) + "\n")
    fetch_kang2018(dest, local_dir=flat.root)
    assert (dest / MATRIX).read_bytes() == source.read_bytes()
    assert read_manifest(manifest)[MATRIX].sha256 != recorded.sha256


def test_failed_parse_forgets_the_copy_so_a_fixed_source_just_works(flat, tmp_path):
    good = flat.files[MATRIX].read_bytes()
    _garbage(flat)
    dest = tmp_path / "resources" / "kang2018"
    fetch_kang2018(dest, local_dir=flat.root)
    files = [str(dest / name) for name in read_manifest(dest / MANIFEST_NAME)]
    counts = tmp_path / "counts.h5ad"
    with pytest.raises(SourceFileError, match="Missing banner"):
        data_steps.prepare_kang2018(files=files, counts=str(counts), n_top_genes=30)
    assert not (dest / MATRIX).exists() and MATRIX not in read_manifest(dest / MANIFEST_NAME)
    flat.files[MATRIX].write_bytes(good)
    fetch_kang2018(dest, local_dir=flat.root)
    data_steps.prepare_kang2018(files=files, counts=str(counts), n_top_genes=30)
    assert ad.read_h5ad(counts).n_vars == 30


def test_local_dir_missing_a_file_or_absent_is_refused_at_parse_time(config, flat, tmp_path):
    config["datasets"]["simulated"]["enabled"] = False
    kang = config["datasets"]["kang2018"]
    kang["local_dir"] = str(flat.root)
    check_datasets(config)
    flat.files[MATRIX].unlink()
    with pytest.raises(ConfigError) as error:
        check_datasets(config)
    assert _one_line(error) == (f"config key datasets.kang2018.local_dir = {str(flat.root)!r}: {flat.root / MATRIX} "
                                "not found; the folder must hold all six GEO files of GSE96583 batch 2, or set "
                                "local_dir: null to download them")
    kang["local_dir"] = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError) as error:
        check_datasets(config)
    assert _one_line(error) == (f"config key datasets.kang2018.local_dir = {str(tmp_path / 'nowhere')!r}: the folder "
                                "does not exist; give a folder holding the six GEO files of GSE96583 batch 2, or null "
                                "to download them")


# --- interrupted writes --------------------------------------------------------------------------

def test_stale_temporary_file_of_a_killed_write_is_removed(tmp_path):
    target = tmp_path / "checkpoint.pt"
    stale = tmp_path / ".checkpoint.pt.k3x9_q2a.part.pt"  # as tempfile.mkstemp names it
    stale.write_bytes(b"half a checkpoint")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    other = tmp_path / ".other.pt.k3x9_q2a.part.pt"  # another target's: not ours to remove
    other.write_bytes(b"x")
    os.utime(other, (hour_ago, hour_ago))
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.pt.k3x9_q2a.part.pt", "checkpoint.pt"]


def test_a_write_in_progress_is_not_stale(tmp_path):
    fresh = tmp_path / ".checkpoint.pt.abcdefgh.part.pt"
    fresh.write_bytes(b"being written now")
    assert remove_stale_parts(tmp_path / "checkpoint.pt") == []
    assert fresh.exists()


# --- scoring and figures -------------------------------------------------------------------------

def _latent_of(small_counts):
    latent = ad.AnnData(obs=small_counts.obs.copy())
    latent.obsm["X_latent"] = np.random.default_rng(0).normal(size=(small_counts.n_obs, 4)).astype(np.float32)
    return latent


def test_declared_categorical_integer_factor_has_no_correlation(small_counts):
    latent = _latent_of(small_counts)
    latent.obs["donor"] = np.resize(np.array([3, 5, 9]), latent.n_obs)
    inferred = evaluate.score_latent(latent, ["donor", "activity_00"], resolutions=(1.0,), neighbors_method="gauss")
    assert "donor" in set(inferred.loc[inferred["metric"] == "max_abs_corr", "factor"])
    declared = evaluate.score_latent(latent, ["donor", "activity_00"], resolutions=(1.0,), neighbors_method="gauss",
                                     factor_types={"donor": "categorical"})
    assert set(declared.loc[declared["metric"] == "max_abs_corr", "factor"]) == {"activity_00"}
    assert np.isfinite(declared["value"]).all()


def test_a_latent_holding_nan_names_the_dimension_instead_of_counting_it_collapsed():
    latent = np.random.default_rng(0).normal(size=(50, 4))
    assert active_units(latent) == 4
    latent[7, 2] = np.nan
    for measure in (active_units, latent_activity):
        with pytest.raises(ValueError) as error:
            measure(latent)
        assert _one_line(error) == ("z_mean: dimension 2 holds NaN in 1 of 50 cells; a latent that is not finite "
                                    "cannot be judged active or collapsed")


def test_figure3_with_only_categorical_factors_draws_the_rest(tmp_path):
    from test_plots import _embedding, _latent, _table

    table = _table("pbmc", [1.0, 2.0], seeds=(0, 1), extra=False)
    table = table[table["metric"] != "max_abs_corr"]  # factors cell and donor: both categorical
    embedding = _embedding()
    fig = plots.figure3(embedding, table, [_latent(embedding, table, 1.0)], identity="cell", stimulation="cell")
    texts = [text.get_text() for ax in fig.axes for text in ax.texts]
    assert "no numeric factor:\n'cell' has no |r| score" in texts
    highlighted = [ax.get_title().split(" (n")[0] for ax in fig.axes if "(n = " in ax.get_title()]
    assert highlighted == ["B cells", "Megakaryocytes"]
    fig.savefig(tmp_path / "figure3.png")
    plt.close(fig)
    fig = plots.figure3(embedding, table, [_latent(embedding, table, 1.0)], identity="cell", stimulation="cell",
                        targets=())
    assert not any("(n = " in ax.get_title() for ax in fig.axes)
    plt.close(fig)


def test_metric_table_records_the_config_it_came_from(tmp_path):
    runs = tmp_path / "run.tsv"
    write_tsv(pd.DataFrame({"run": ["a"], "metric": ["max_abs_corr"], "factor": ["x"], "dim": [0], "value": [0.5]}),
              runs)
    settings = {"dataset": "mine", "training": {"n_latent": 10}, "evaluation": {"correlation": "pearson"}}
    evaluate.collect(scores=[str(runs)], table=str(tmp_path / "all.tsv"),
                     max_abs_corr_table=str(tmp_path / "corr.tsv"), collapse=str(tmp_path / "collapse.tsv"),
                     settings=copy.deepcopy(settings))
    first = (tmp_path / "all.tsv").read_text().splitlines()[0]
    assert first.endswith('config {"dataset": "mine", "evaluation": {"correlation": "pearson"}, '
                          '"training": {"n_latent": 10}}')
    assert read_tsv(tmp_path / "corr.tsv")["abs_corr"].tolist() == [0.5]
