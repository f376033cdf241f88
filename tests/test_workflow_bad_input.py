"""Bad input and interruptions met through the real `snakemake` on tiny configs: one line naming the key,
file or column, before any job starts wherever the config alone shows the problem."""
import copy
import gzip
import os
import time

import numpy as np
import pytest
import yaml

from conftest import TINY_CONFIG, run_snakemake
from geo_fixture import write_geo_layout
from scbeta._io import read_tsv
from scbeta.download import MANIFEST_NAME, read_manifest

pytestmark = pytest.mark.workflow

MATRIX = "GSM2560248_2.1.mtx.gz"
SMALL = {
    "seeds": [0],
    "training": {"epochs": 2, "n_hidden": 16, "checkpoint_every": 1, "threads": 1, "device": "cpu"},
    "evaluation": {"neighbors_method": "gauss", "resolutions": [1.0]},
    "datasets": {
        "simulated": {"simulate": {"n_cells": 120, "n_genes": 60, "de_prob": 0.2},
                      "sweep": [{"objective": "beta", "beta": [1]}], "figure_betas": [1], "baselines": []},
        "kang2018": {"enabled": False},
    },
}


def _lines(result, start: str) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith(start)]


def _with(config: dict, *path_and_value) -> dict:
    config = copy.deepcopy(config)
    *path, value = path_and_value
    node = config
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return config


def test_n_latent_larger_than_the_genes_stops_before_any_job(tmp_path):
    result = run_snakemake(tmp_path, _with(SMALL, "training", "n_latent", 80), "-n", "--cores", "1")
    assert result.returncode != 0
    assert _lines(result, "config key") == [
        "config key training.n_latent = 80: dataset 'simulated' has only 60 genes "
        "(datasets.simulated.simulate.n_genes); n_latent must be at most the number of genes"]
    assert not (tmp_path / "results").exists()


def test_figure_beta_outside_the_sweep_stops_before_any_job(tmp_path):
    config = _with(TINY_CONFIG, "datasets", "simulated", "sweep", [{"objective": "beta", "beta": [2]}])
    result = run_snakemake(tmp_path, config, "-n", "--cores", "1")
    assert result.returncode != 0
    assert _lines(result, "config key") == [
        "config key datasets.simulated.figure_betas: β 1, 10 not in the β-VAE sweep of dataset 'simulated' "
        "(β: 2); choose values from that sweep"]


def test_whole_float_models_per_job_is_an_integer_and_a_fraction_stops_before_any_job(tmp_path):
    result = run_snakemake(tmp_path, _with(SMALL, "training", "models_per_job", 2.0), "-n", "--cores", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    result = run_snakemake(tmp_path, _with(SMALL, "training", "models_per_job", 2.5), "-n", "--cores", "1")
    assert result.returncode != 0
    assert _lines(result, "config key") == ["config key training.models_per_job = 2.5: 2.5 is not of type 'integer'"]


def test_gene_set_for_a_simulated_program_stops_before_any_job(tmp_path):
    gene_sets = {"activity_00": {"path": "workflow/resources/ifn_genes.txt", "source": "MSigDB"}}
    result = run_snakemake(tmp_path, _with(SMALL, "datasets", "simulated", "gene_sets", gene_sets), "-n",
                           "--cores", "1")
    assert result.returncode != 0
    assert _lines(result, "config key") == [
        "config key datasets.simulated.gene_sets.activity_00: a simulated program is scored against the genes the "
        "simulator made it with, not a gene set; remove this entry"]
    assert not (tmp_path / "results").exists()


def test_learning_rate_in_exponent_notation_is_a_number(tmp_path):
    config = copy.deepcopy(SMALL)
    config["training"]["lr"] = "LEARNING_RATE"
    (tmp_path / "text.yaml").write_text(yaml.safe_dump(config).replace("LEARNING_RATE", "1e-3"))
    assert yaml.safe_load((tmp_path / "text.yaml").read_text())["training"]["lr"] == "1e-3"  # YAML 1.1
    result = run_snakemake(tmp_path, yaml.safe_load((tmp_path / "text.yaml").read_text()), "-n", "--cores", "1")
    assert result.returncode == 0, result.stderr[-3000:]


def _users_h5ad(tmp_path, small_counts, **columns):
    data = small_counts.copy()
    for name, values in columns.items():
        data.obs[name] = np.resize(np.asarray(values), data.n_obs)
    path = tmp_path / "mine.h5ad"
    data.write_h5ad(path)
    return path


def _user_config(path, factors, identity="identity", **entry):
    return {**SMALL, "datasets": {"simulated": {"enabled": False}, "kang2018": {"enabled": False},
                                  "mine": {"source": "h5ad", "path": str(path), "factors": factors,
                                           "identity": identity, "sweep": [{"objective": "beta", "beta": [1]}],
                                           **entry}}}


def test_one_identity_label_stops_before_any_job(tmp_path, small_counts):
    path = _users_h5ad(tmp_path, small_counts, label=["T cells"])
    result = run_snakemake(tmp_path / "run", _user_config(path, ["activity_00"], identity="label"), "-n",
                           "--cores", "1")
    assert result.returncode != 0
    assert _lines(result, "dataset 'mine'") == [
        f"dataset 'mine' ({path}): identity column 'label' holds only the label 'T cells'; clustering and "
        "identity scores need at least 2 labels (set identity: null to skip them)"]


def test_integer_labels_must_be_declared(tmp_path, small_counts):
    path = _users_h5ad(tmp_path, small_counts, donor=[1015, 1016, 1039, 101])
    result = run_snakemake(tmp_path / "run", _user_config(path, ["donor"]), "-n", "--cores", "1")
    assert result.returncode != 0
    assert _lines(result, "dataset 'mine'") == [
        f"dataset 'mine' ({path}): factor 'donor' holds 4 distinct integers (101, 1015, 1016, 1039), probably a "
        "categorical label; declare its type in the config: factors: {donor: categorical} (or numeric)"]
    result = run_snakemake(tmp_path / "run", _user_config(path, {"donor": "categorical"}), "-n", "--cores", "1")
    assert result.returncode == 0, result.stderr[-3000:]


def test_empty_users_h5ad_is_named_empty_before_any_job(tmp_path, small_counts):
    path = tmp_path / "mine.h5ad"
    small_counts[:0].copy().write_h5ad(path)
    result = run_snakemake(tmp_path / "run", _user_config(path, ["activity_00"]), "-n", "--cores", "1")
    assert result.returncode != 0
    assert _lines(result, "dataset 'mine'") == [
        f"dataset 'mine' ({path}): the count matrix is empty (0 cells × 150 genes)"]


def test_only_categorical_factors_still_make_figure3(tmp_path, small_counts):
    path = _users_h5ad(tmp_path, small_counts, donor=[1015, 1016, 1039])
    config = _user_config(path, {"identity": "categorical", "donor": "categorical"}, max_cells=200)
    result = run_snakemake(tmp_path / "run", config, "--cores", "2", "results/figures/figure3_mine.png")
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "run" / "results"
    assert (results / "figures" / "figure3_mine.png").stat().st_size > 10_000
    table = read_tsv(results / "mine" / "metrics" / "all.tsv")
    assert not (table["metric"] == "max_abs_corr").any()
    assert {"mig", "best_ari", "identity_accuracy"} <= set(table["metric"])
    provenance = (results / "mine" / "metrics" / "all.tsv").read_text().splitlines()[0]
    assert '"donor": "categorical"' in provenance and '"n_latent": 10' in provenance


def test_unreadable_local_matrix_names_the_file_and_a_fixed_one_just_works(tmp_path):
    flat = write_geo_layout(tmp_path / "flat", n_cells_per_sample=40, n_genes=60, flat=True)
    good = flat.files[MATRIX].read_bytes()
    with gzip.open(flat.files[MATRIX], "wt") as handle:
        handle.write("".join(chr(c) for c in np.random.default_rng(0).integers(97, 123, 5000)))
    config = {**SMALL, "datasets": {"simulated": {"enabled": False},
                                    "kang2018": {"local_dir": str(flat.root), "n_top_genes": 30, "baselines": [],
                                                 "sweep": [{"objective": "beta", "beta": [1]}], "figure_betas": [1]}}}
    target = "results/kang2018/counts.h5ad"
    result = run_snakemake(tmp_path / "run", config, "--cores", "1", target)
    assert result.returncode != 0
    copy_path = tmp_path / "run" / "resources" / "kang2018" / MATRIX
    assert _lines(result, "scbeta.data.SourceFileError:")[-1] == (
        f"scbeta.data.SourceFileError: resources/kang2018/{MATRIX}: not a readable MatrixMarket count matrix "
        "(Line 1: Not a Matrix Market file. Missing banner.)")
    assert not copy_path.exists()
    assert MATRIX not in read_manifest(copy_path.parent / MANIFEST_NAME)

    flat.files[MATRIX].write_bytes(good)  # the fix, in local_dir
    result = run_snakemake(tmp_path / "run", config, "--cores", "1", target)
    assert result.returncode == 0, result.stderr[-3000:]
    assert copy_path.read_bytes() == good and (tmp_path / "run" / target).exists()
    assert not list((tmp_path / "run").rglob("*.part*"))


@pytest.mark.parametrize("absent", ["a file", "the folder"])
def test_local_dir_without_its_files_is_named_first_before_any_job(tmp_path, absent):
    flat = write_geo_layout(tmp_path / "flat", n_cells_per_sample=40, n_genes=60, flat=True)
    flat.files[MATRIX].unlink()
    local_dir = flat.root if absent == "a file" else tmp_path / "nowhere"
    config = {**SMALL, "datasets": {"simulated": {"enabled": False},
                                    "kang2018": {"local_dir": str(local_dir), "n_top_genes": 30, "baselines": [],
                                                 "sweep": [{"objective": "beta", "beta": [1]}], "figure_betas": [1]}}}
    result = run_snakemake(tmp_path / "run", config, "-n", "--cores", "1")
    assert result.returncode != 0
    output = (result.stdout + result.stderr).splitlines()
    assert not any("Missing input files" in line for line in output)
    header = next(i for i, line in enumerate(output) if line.startswith("ConfigError in file"))
    problem = (f"{flat.root / MATRIX} not found; the folder must hold all six GEO files of GSE96583 batch 2, or set "
               "local_dir: null to download them" if absent == "a file" else
               "the folder does not exist; give a folder holding the six GEO files of GSE96583 batch 2, or null to "
               "download them")
    assert output[header + 1] == f"config key datasets.kang2018.local_dir = {str(local_dir)!r}: {problem}"
    assert not (tmp_path / "run" / "resources").exists()


def test_stale_checkpoint_temporary_file_is_removed_when_the_job_starts_again(tmp_path):
    folder = tmp_path / "results" / "simulated" / "checkpoints" / "beta_g0"  # the group of beta_beta1_cmax0_seed0
    folder.mkdir(parents=True)
    stale = folder / ".checkpoint.pt.x7k2m9q1.part.pt"  # left by kill -9 during torch.save
    stale.write_bytes(b"half a checkpoint")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    result = run_snakemake(tmp_path, SMALL, "--cores", "1", "results/simulated/models/beta_beta1_cmax0_seed0/model.pt")
    assert result.returncode == 0, result.stderr[-3000:]
    assert not stale.exists()
    assert not list((tmp_path / "results").rglob("*.part*"))
