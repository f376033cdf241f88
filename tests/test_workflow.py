"""The real `snakemake` command on a tiny configuration, end to end."""
import copy
import json
import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pytest
from PIL import Image

from conftest import TINY_CONFIG, run_snakemake, snakemake_command
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
    for run in vae_runs:
        history = read_tsv(results / "simulated" / "models" / run / "history.tsv")
        assert len(history) == 3 and np.isfinite(history[["loss", "recon", "kl"]].to_numpy()).all()
    # models_per_job 3: one training job per group of at most three runs of one objective
    groups = {"beta_g0": 3, "beta_g1": 1, "capacity_g0": 3, "capacity_g1": 1, "tcvae_g0": 2, "factorvae_g0": 2}
    assert sorted(p.stem for p in (results / "benchmarks" / "simulated" / "train").iterdir()) == sorted(groups)
    for group, size in groups.items():
        log = (results / "logs" / "simulated" / "train" / f"{group}.log").read_text()
        assert f"training {size} models in one group" in log
        # one progress line per epoch for the whole group, with each model's loss
        assert log.count("epoch 3/3") == 1
        assert len(re.search(r"epoch 3/3  loss (.*?)  ", log).group(1).split()) == size
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
    # the data as used: the cells and genes the models were trained on, not the configured maximum
    labels = counts.obs["identity"].nunique()
    assert f"| `simulated` | simulated (scbeta.simulate, seed 0) | 300 | 120 | – | {labels} |" in claims
    # every interval of a bounded metric within its range; the run set beside the shipped reference
    intervals = read_tsv(results / "claims.tsv").dropna(subset=["ci_low"])
    assert len(intervals) and intervals["ci_low"].ge(0).all() and intervals["ci_high"].le(1).all()
    assert "## Against the full-size reference" in claims
    versions = read_tsv(results / "provenance" / "versions.tsv").set_index("package")["version"]
    assert versions["lock"].startswith(("matches", "differs", "no lock file"))
    if (Path(__file__).parents[1] / "reference" / "claims.tsv").exists():
        assert "| 1a | `simulated` |" in claims.split("## Against the full-size reference")[1]
    with Image.open(results / "figures" / "figure2.png") as image:
        assert image.info["Warning"].startswith("Reduced configuration")
    for path in [p for p in results.rglob("*") if p.is_file() and "logs" not in p.parts
                 and "benchmarks" not in p.parts]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert "P1. Program recovery on simulated data rises with β" in claims
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
    assert not list((results / "simulated").glob("checkpoints/*"))  # each group's checkpoints went with it


def test_report_is_self_contained(finished):
    result = run_snakemake(finished, TINY_CONFIG, "--report", "results/report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ERROR" not in result.stderr, result.stderr[-3000:]
    html = (finished / "results" / "report.html").read_text()
    for name in ("figure2.png", "tradeoff.png", "metrics_by_beta.png", "claims.html", "versions.tsv", "all.tsv",
                 "collapse.tsv", "programs_simulated.png"):
        assert name in html, name
    assert "<script src=\"http" not in html  # no assets fetched from the network
    # the landing page: both arms, the reduced-configuration warning and the claims table
    assert "simulated counts" in html and "Kang et al. (2018) PBMCs" in html
    assert "Reduced configuration: simulated: 300 cells" in html
    assert "Alignment with the simulated factors rises with" in html  # the claims table
    assert "Data as used" in html and "stability" in html


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


def scheduled_jobs(dry_run_output):
    """{rule: (its outputs, its resources)} of the jobs a dry run lists."""
    blocks = re.findall(r"^rule (\w+):\n((?:    .*\n)+)", dry_run_output, re.M)
    fields = {rule: dict(re.findall(r"^    (\w+): (.*)$", block, re.M)) for rule, block in blocks}
    return {rule: (job["output"].split(", "), job["resources"].split(", ")) for rule, job in fields.items()}


@pytest.mark.parametrize("device, gpus", [("cpu", 0), ("cuda", 1)])
def test_asking_for_one_model_trains_its_group_in_one_job(tmp_path, device, gpus):
    config = copy.deepcopy(TINY_CONFIG)
    config["training"]["device"] = device
    result = run_snakemake(tmp_path, config, "-n", "--cores", "1",
                           "results/simulated/models/beta_beta10_cmax0_seed0/model.pt")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = scheduled_jobs(result.stdout)
    assert jobs.keys() == {"simulate", "train_simulated_beta_g0"}, result.stdout[-3000:]
    outputs, resources = jobs["train_simulated_beta_g0"]
    group = ["beta_beta1_cmax0_seed0", "beta_beta1_cmax0_seed1", "beta_beta10_cmax0_seed0"]
    assert sorted(outputs) == sorted(f"results/simulated/models/{run}/{name}"
                                     for run in group for name in ("model.pt", "history.tsv"))
    assert f"gpu={gpus}" in resources  # one GPU for the whole group on CUDA


RESUME_CONFIG = copy.deepcopy(TINY_CONFIG)
RESUME_CONFIG["seeds"] = [0]
RESUME_CONFIG["training"].update(epochs=40, checkpoint_every=2, models_per_job=2)
RESUME_CONFIG["datasets"]["simulated"]["sweep"] = [{"objective": "beta", "beta": [1, 10]}]
RESUME_RUNS = ["beta_beta1_cmax0_seed0", "beta_beta10_cmax0_seed0"]
RESUME_TARGET = f"results/simulated/models/{RESUME_RUNS[1]}/model.pt"


def test_a_killed_group_resumes_from_its_checkpoint(tmp_path):
    reference = run_snakemake(tmp_path / "reference", RESUME_CONFIG, "--cores", "1", RESUME_TARGET)
    assert reference.returncode == 0, reference.stderr[-3000:]

    workdir = tmp_path / "killed"
    command, env = snakemake_command(workdir, RESUME_CONFIG, "--cores", "1", RESUME_TARGET)
    victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    checkpoints = workdir / "results" / "simulated" / "checkpoints" / "beta_g0"
    deadline = time.time() + 120
    while not list(checkpoints.rglob("checkpoint.pt")) and victim.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(victim.pid, signal.SIGKILL)  # snakemake and its training job, as when a node fails
    victim.wait()
    assert list(checkpoints.rglob("checkpoint.pt")), "the group finished before its first checkpoint"
    models = [workdir / "results" / "simulated" / "models" / run for run in RESUME_RUNS]
    assert not any((model / "model.pt").exists() for model in models)

    assert run_snakemake(workdir, RESUME_CONFIG, "--unlock").returncode == 0
    resumed = run_snakemake(workdir, RESUME_CONFIG, "--cores", "1", RESUME_TARGET)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in (workdir / "results" / "logs" / "simulated" / "train" / "beta_g0.log").read_text()
    for run, model in zip(RESUME_RUNS, models):
        expected = read_tsv(tmp_path / "reference" / "results" / "simulated" / "models" / run / "history.tsv")
        history = read_tsv(model / "history.tsv")
        assert len(history) == 40
        np.testing.assert_array_equal(history[["loss", "recon", "kl"]], expected[["loss", "recon", "kl"]])
    assert not checkpoints.exists()  # the saved models supersede the group's checkpoints
