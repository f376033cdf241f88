"""The real-data arm through the real `snakemake`: GEO files served from a loopback HTTP server, and a user's .h5ad."""
import re

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from conftest import run_snakemake
from geo_fixture import CELL_TYPES, serve, write_geo_layout
from scbeta._io import read_tsv
from scbeta.download import KANG2018_FILES

pytestmark = pytest.mark.workflow

REAL_CONFIG = {
    "seeds": [0],
    "training": {"epochs": 2, "n_hidden": 32, "threads": 1, "device": "cpu"},
    "evaluation": {"resolutions": [0.5, 1.0]},
    "datasets": {
        "simulated": {"enabled": False},
        "kang2018": {"sweep": [{"objective": "beta", "beta": [1, 2]}], "baselines": ["pca"], "n_top_genes": 60},
    },
}


@pytest.fixture(scope="module")
def kang_run(tmp_path_factory):
    geo = tmp_path_factory.mktemp("geo")
    written = write_geo_layout(geo, n_cells_per_sample=60, n_genes=80, seed=4)
    workdir = tmp_path_factory.mktemp("kang")
    # The fixture's interferon-like genes: the block after the cell types' marker blocks.
    block = max(3, 80 // (2 * len(CELL_TYPES) + 2))
    stim_genes = workdir / "stim_genes.txt"
    stimulated = range(len(CELL_TYPES) * block, (len(CELL_TYPES) + 1) * block)
    stim_genes.write_text("# the fixture's stimulated genes\n" + "".join(f"GENE{i}\n" for i in stimulated))
    with serve(geo) as base_url:
        kang = {**REAL_CONFIG["datasets"]["kang2018"], "base_url": base_url,
                "gene_sets": {"stim_indicator": {"path": str(stim_genes), "source": "geo_fixture"}}}
        config = {**REAL_CONFIG, "datasets": {**REAL_CONFIG["datasets"], "kang2018": kang}}
        result = run_snakemake(workdir, config, "--cores", "2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir, written


def test_download_is_recorded_in_the_manifest(kang_run):
    workdir, _ = kang_run
    manifest = pd.read_csv(workdir / "resources" / "kang2018" / "MANIFEST.tsv", sep="\t", comment="#")
    assert set(manifest.iloc[:, 0]) == set(KANG2018_FILES)
    assert not list((workdir / "resources").rglob("*.part*"))


def test_counts_are_singlets_with_a_type_on_variable_genes(kang_run):
    workdir, written = kang_run
    counts = ad.read_h5ad(workdir / "results" / "kang2018" / "counts.h5ad")
    assert counts.n_vars == 60
    assert (counts.obs["multiplets"] == "singlet").all() and counts.obs["cell"].notna().all()
    assert set(counts.obs["stim_indicator"]) == {0.0, 1.0}
    assert counts.n_obs == 2 * (60 - 4)  # per sample: two doublets, one ambiguous, one without a type


def test_real_data_metrics_are_complete(kang_run):
    workdir, _ = kang_run
    table = read_tsv(workdir / "results" / "kang2018" / "metrics" / "all.tsv")
    assert set(table["run"]) == {"beta_beta1_cmax0_seed0", "beta_beta2_cmax0_seed0", "pca_seed0"}
    for run, rows in table.groupby("run"):
        metrics = set(rows["metric"])
        assert {"max_abs_corr", "best_ari", "best_nmi", "identity_accuracy", "mig"} <= metrics
        stim = rows[(rows["metric"] == "max_abs_corr")]
        assert list(stim["factor"]) == ["stim_indicator"]
        assert np.isfinite(rows["value"]).all()
        diagnostics = rows["metric"].isin(["active_units", "latent_activity", "kl_dim", "final_recon", "final_kl"])
        assert rows.loc[~diagnostics, "value"].between(-1, 2).all()  # scores
        assert (rows.loc[diagnostics, "value"] >= 0).all()  # counts, variances, KL, −log-likelihood
        recovered = rows[rows["metric"].isin(["program_auroc", "program_ap"])]
        assert list(recovered["factor"]) == ["stim_indicator"] * 2 and recovered["value"].between(0, 1).all()
        top = read_tsv(workdir / "results" / "kang2018" / "programs" / "top_genes" / f"{run}.tsv")
        assert {"stim_indicator", "B cells"} <= set(top["target"]) and top["gene"].str.startswith("GENE").all()
    for name in ("figure3_kang2018.png", "figure3_kang2018.pdf", "tradeoff.png", "metrics_by_beta.png",
                 "programs_kang2018.png"):
        assert (workdir / "results" / "figures" / name).stat().st_size > 10_000, name
    claims = (workdir / "results" / "claims.md").read_text()
    assert "2a. Alignment with stimulation rises with β" in claims


def test_a_users_h5ad_runs_through_the_same_rules(tmp_path, small_counts):
    path = tmp_path / "mine.h5ad"
    data = small_counts.copy()
    data.obs["condition"] = (data.obs["activity_00"] > 0).astype(float)
    data.layers["raw"] = data.X.copy()
    data.X = data.X * 0.5  # normalised values in X: the workflow must read the layer
    data.write_h5ad(path)
    config = {**REAL_CONFIG, "datasets": {
        "simulated": {"enabled": False}, "kang2018": {"enabled": False},
        "mine": {"source": "h5ad", "path": str(path), "layer": "raw", "factors": ["condition"],
                 "identity": "identity", "max_cells": 400, "sweep": [{"objective": "beta", "beta": [1]}]}}}
    result = run_snakemake(tmp_path / "run", config, "--cores", "2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    imported = ad.read_h5ad(tmp_path / "run" / "results" / "mine" / "counts.h5ad")
    assert imported.n_obs == 400 and set(imported.obs_names) <= set(data.obs_names)
    assert (tmp_path / "run" / "results" / "figures" / "figure3_mine.png").stat().st_size > 10_000
    table = read_tsv(tmp_path / "run" / "results" / "mine" / "metrics" / "all.tsv")
    assert "condition" in set(table.loc[table["metric"] == "max_abs_corr", "factor"])
    assert np.isfinite(table["value"]).all()


@pytest.mark.parametrize("problem, expected", [
    ("missing_column", "obs column 'nope' not found"),
    ("non_integer", "counts must be integers"),
    ("missing_file", "file not found"),
])
def test_a_bad_h5ad_stops_at_parse_time(tmp_path, small_counts, problem, expected):
    path = tmp_path / "mine.h5ad"
    data = small_counts.copy()
    if problem == "non_integer":
        data.X = data.X * 0.5
    if problem != "missing_file":
        data.write_h5ad(path)
    factors = ["nope"] if problem == "missing_column" else ["activity_00"]
    config = {**REAL_CONFIG, "datasets": {
        "simulated": {"enabled": False}, "kang2018": {"enabled": False},
        "mine": {"source": "h5ad", "path": str(path), "factors": factors, "sweep": [{"objective": "beta"}]}}}
    result = run_snakemake(tmp_path / "run", config, "-n", "--cores", "1")
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("dataset 'mine'")]
    assert len(lines) == 1 and expected in lines[0] and str(path) in lines[0]


def test_figure3_is_planned_for_each_real_dataset_with_beta_vae_runs(tmp_path, small_counts):
    path = tmp_path / "mine.h5ad"
    small_counts.write_h5ad(path)
    user = {"source": "h5ad", "path": str(path), "factors": ["activity_00"], "identity": "identity"}
    config = {**REAL_CONFIG, "datasets": {
        "simulated": {"enabled": False}, "kang2018": {"enabled": False},
        "with_beta": {**user, "sweep": [{"objective": "beta", "beta": [1, 2]}]},
        "only_tcvae": {**user, "sweep": [{"objective": "tcvae", "beta": [6]}]},
        "no_labels": {**user, "identity": None, "sweep": [{"objective": "beta", "beta": [1]}]}}}
    result = run_snakemake(tmp_path / "run", config, "-n", "--cores", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    planned = set(re.findall(r"results/figures/(figure3_\w+)\.png", result.stdout + result.stderr))
    assert planned == {"figure3_with_beta"}


def test_figure3_of_a_users_h5ad_shows_the_ends_of_its_own_beta_sweep(tmp_path, small_counts):
    # No figure_betas and no figures key: β 1 and 5, the ends of the dataset's β-VAE sweep (not config.yaml's
    # Kang et al. β 2, nor the capacity runs' β).
    path = tmp_path / "mine.h5ad"
    small_counts.write_h5ad(path)
    config = {**REAL_CONFIG, "datasets": {
        "simulated": {"enabled": False}, "kang2018": {"enabled": False},
        "mine": {"source": "h5ad", "path": str(path), "factors": ["activity_00"], "identity": "identity",
                 "sweep": [{"objective": "beta", "beta": [3, 1, 5]}, {"objective": "capacity", "beta": [10],
                                                                       "c_max": [5]}]}}}
    assert "figures" not in config
    result = run_snakemake(tmp_path / "run", config, "-n", "--cores", "1", "results/figures/figure3_mine.png")
    assert result.returncode == 0, result.stderr[-3000:]
    job = re.search(r"^rule figure3:\n((?:    .*\n)+)", result.stdout, re.M).group(1)
    inputs = re.search(r"^    input: (.*)$", job, re.M).group(1).split(", ")
    assert sorted(p for p in inputs if "/latents/" in p) == [f"results/mine/latents/beta_beta{b}_cmax0_seed0.h5ad"
                                                           for b in (1, 5)]
