"""The real `snakemake` command on a tiny configuration, end to end."""
import copy
import json
import os
import stat

import anndata as ad
import numpy as np
import pytest

from PIL import Image

from conftest import TINY_CONFIG, run_snakemake
from scbeta._io import read_tsv

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    previous = os.umask(0o022)  # outputs must get the permissions of a plain write under it
    try:
        result = run_snakemake(workdir, TINY_CONFIG, "--cores", "2")
    finally:
        os.umask(previous)
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
    assert {"max_abs_corr", "mig", "dci_disentanglement", "lms_smi", "best_ari", "identity_accuracy", "active_units",
            "latent_activity", "kl_dim", "final_recon", "final_kl"} <= set(scores["metric"])
    assert np.isfinite(scores["value"]).all()
    # collapse diagnostics: ten dims of activity for every run, of KL for the VAEs only
    per_run = scores.groupby("run")["metric"].value_counts().unstack(fill_value=0)
    assert (per_run["latent_activity"] == 10).all() and (per_run["active_units"] == 1).all()
    assert (per_run.loc[vae_runs, "kl_dim"] == 10).all() and per_run.loc["pca_seed0", "kl_dim"] == 0
    collapse = read_tsv(results / "simulated" / "metrics" / "collapse.tsv").set_index("run")
    assert set(collapse.index) == set(runs) and collapse["active_units"].between(0, 10).all()
    history = read_tsv(results / "simulated" / "models" / "beta_beta1_cmax0_seed0" / "history.tsv")
    assert collapse.loc["beta_beta1_cmax0_seed0", "final_kl"] == pytest.approx(history["kl"].iloc[-1])
    latent = ad.read_h5ad(results / "simulated" / "latents" / "beta_beta1_cmax0_seed0.h5ad")
    assert (latent.obsm["X_latent_var"] > 0).all()
    for name in ("figures/figure2.png", "figures/figure2.pdf", "figures/tradeoff.png", "figures/tradeoff.pdf",
                 "figures/metrics_by_beta.png", "figures/metrics_by_beta.pdf", "claims.md", "claims.html", "claims.tsv",
                 "provenance/versions.tsv", "provenance/config.yaml"):
        assert (results / name).stat().st_size > 100, name
    claims = (results / "claims.md").read_text()
    assert "1a. Alignment with the simulated factors rises with β" in claims
    assert claims.splitlines()[2].startswith("> **Reduced configuration: simulated: 300 cells × 120 genes")
    assert "active dims (collapsed seeds)" in claims
    assert "&lt;" not in claims and "not evaluated: ." not in (results / "claims.html").read_text()
    with Image.open(results / "figures" / "figure2.png") as image:
        assert image.info["Warning"].startswith("Reduced configuration")
    for path in [p for p in results.rglob("*") if p.is_file() and "logs" not in p.parts
                 and "benchmarks" not in p.parts]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert not list(results.rglob("*.part*")), "temporary files left behind"
    assert not list((results / "simulated").glob("checkpoints/*/checkpoint.pt"))


def test_report_is_self_contained(finished):
    result = run_snakemake(finished, TINY_CONFIG, "--report", "results/report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ERROR" not in result.stderr, result.stderr[-3000:]
    html = (finished / "results" / "report.html").read_text()
    for name in ("figure2.png", "tradeoff.png", "metrics_by_beta.png", "claims.html", "versions.tsv", "all.tsv",
                 "collapse.tsv"):
        assert name in html, name
    assert "<script src=\"http" not in html  # no assets fetched from the network
    # the landing page: both arms, the reduced-configuration warning and the claims table
    assert "simulated counts" in html and "Kang et al. (2018) PBMCs" in html
    assert "Reduced configuration: simulated: 300 cells" in html
    assert "Alignment with the simulated factors rises with" in html  # the claims table


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
