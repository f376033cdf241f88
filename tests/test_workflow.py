"""The real `snakemake` command on a tiny configuration, end to end."""
import copy
import json

import anndata as ad
import numpy as np
import pytest

from conftest import TINY_CONFIG, run_snakemake
from scbeta._io import read_tsv

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    result = run_snakemake(workdir, TINY_CONFIG, "--cores", "2")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def test_every_output_exists_and_is_finite(finished):
    results = finished / "results"
    vae_runs = [f"{objective}_beta{beta}_cmax{c}_seed{seed}" for objective, c in (("beta", 0), ("capacity", 5))
                for beta in (1, 10) for seed in (0, 1)]
    vae_runs += [f"tcvae_beta6_cmax0_seed{seed}" for seed in (0, 1)]
    vae_runs += [f"factorvae_gamma10_seed{seed}" for seed in (0, 1)]
    runs = vae_runs + ["pca_seed0", "pca_seed1"]
    counts = ad.read_h5ad(results / "simulated" / "counts.h5ad")
    assert counts.shape == (300, 120)
    for run in runs:
        latent = ad.read_h5ad(results / "simulated" / "latents" / f"{run}.h5ad")
        assert latent.obsm["X_latent"].shape == (300, 10)
        assert np.isfinite(latent.obsm["X_latent"]).all()
        assert latent.uns["scbeta"]["scbeta_version"]
    for run in vae_runs:
        history = read_tsv(results / "simulated" / "models" / run / "history.tsv")
        assert len(history) == 3 and np.isfinite(history[["loss", "recon", "kl"]].to_numpy()).all()
        assert (results / "benchmarks" / "simulated" / "train" / f"{run}.tsv").exists()
        assert "epoch 3/3" in (results / "logs" / "simulated" / "train" / f"{run}.log").read_text()
    params = json.loads((results / "simulated" / "models" / "factorvae_gamma10_seed0" / "params.json").read_text())
    assert params["objective_params"]["discriminator_width"] == 32 and params["objective_params"]["gamma"] == 10
    table = read_tsv(results / "simulated" / "metrics" / "max_abs_corr.tsv")
    assert set(table["run"]) == set(runs)
    assert len(table) == len(runs) * 6
    assert table["abs_corr"].between(0, 1).all()
    scores = read_tsv(results / "simulated" / "metrics" / "all.tsv")
    assert {"max_abs_corr", "mig", "dci_disentanglement", "lms_smi", "best_ari", "identity_accuracy"} <= set(
        scores["metric"])
    assert np.isfinite(scores["value"]).all()
    for name in ("figures/figure2.png", "figures/figure2.pdf", "figures/tradeoff.png", "figures/tradeoff.pdf",
                 "figures/metrics_by_beta.png", "figures/metrics_by_beta.pdf", "claims.md", "claims.html", "claims.tsv",
                 "provenance/versions.tsv", "provenance/config.yaml"):
        assert (results / name).stat().st_size > 100, name
    assert "1a. Alignment with the simulated factors rises with β" in (results / "claims.md").read_text()
    assert "P1. Program recovery on simulated data rises with β" in (results / "claims.md").read_text()
    for run in runs:
        programs = read_tsv(results / "simulated" / "programs" / f"{run}.tsv")
        assert len(programs) == 10 * 120 and list(programs.columns) == ["dim", "gene", "score", "rank"]
        assert np.isfinite(programs["score"]).all() and (programs.groupby("dim")["rank"].min() == 1).all()
        top = read_tsv(results / "simulated" / "programs" / "top_genes" / f"{run}.tsv")
        assert set(top["target"]) == {*counts.uns["factors"], *counts.obs["identity"].unique()}
        assert top.groupby("target")["rank"].max().max() <= 20
        assert (results / "benchmarks" / "simulated" / "programs" / f"{run}.tsv").exists()
    recovered = scores[scores["metric"].isin(["program_auroc", "program_ap"])]
    assert len(recovered) == len(runs) * 2 * 6 and recovered["value"].between(0, 1).all()
    assert (results / "figures" / "programs_simulated.png").stat().st_size > 10_000
    assert not list(results.rglob("*.part*")), "temporary files left behind"
    assert not list((results / "simulated").glob("checkpoints/*/checkpoint.pt"))


def test_report_is_self_contained(finished):
    result = run_snakemake(finished, TINY_CONFIG, "--report", "results/report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ERROR" not in result.stderr, result.stderr[-3000:]
    html = (finished / "results" / "report.html").read_text()
    for name in ("figure2.png", "tradeoff.png", "metrics_by_beta.png", "claims.html", "versions.tsv", "all.tsv",
                 "programs_simulated.png"):
        assert name in html, name
    assert "<script src=\"http" not in html  # no assets fetched from the network


def test_rerun_has_nothing_to_do(finished):
    result = run_snakemake(finished, TINY_CONFIG, "-n", "--cores", "1")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_bad_config_stops_at_parse_time_with_one_line(tmp_path):
    config = copy.deepcopy(TINY_CONFIG)
    config["datasets"]["simulated"]["sweep"] = [{"objective": "beta", "beta": [-2]}]
    result = run_snakemake(tmp_path, config, "-n", "--cores", "1")
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("config key")]
    assert lines == ["config key datasets.simulated.sweep.0.beta.0 = -2: -2 is less than or equal to the minimum "
                     "of 0"]
    assert not (tmp_path / "results").exists()
