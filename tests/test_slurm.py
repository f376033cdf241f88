"""The tiny workflow through profiles/slurm, on a real single-node SLURM cluster.

`.ci/local-slurm.sh start` installs (if needed) and starts the cluster: slurmctld and slurmd on
this machine, without an accounting database. The test adds on the command line only what this
cluster needs: job states from squeue instead of sacct, an early first status check, no account,
the partition, and memory requests that fit any test machine. Everything else comes from the
profile users run.
"""
import copy
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, TINY_CONFIG, run_snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

CLUSTER = REPO / ".ci" / "local-slurm.sh"
PROFILE = REPO / "profiles" / "slurm"

# One seed, two β-VAE models and no baselines: the smallest run that still makes every figure
# (Figure 2D shows β 1 and 10). Both models train in one job (one group of runs).
CONFIG = copy.deepcopy(TINY_CONFIG)
CONFIG["seeds"] = [0]
CONFIG["datasets"]["simulated"]["sweep"] = [{"objective": "beta", "beta": [1, 10]}]
CONFIG["datasets"]["simulated"]["baselines"] = []
RUNS = ["beta_beta1_cmax0_seed0", "beta_beta10_cmax0_seed0"]
TRAIN_RULE = "train_simulated_beta_g0"
MEM_MB = 1000  # per job: the tiny data need little, and any test machine then fits two jobs


def rule_names(workdir):
    """Every rule of the workflow under CONFIG, the training rule of each group of runs included."""
    listed = run_snakemake(workdir, CONFIG, "--list-rules")
    assert listed.returncode == 0, listed.stderr[-3000:]
    return listed.stdout.split()


def snakemake_jobs(output):
    """{snakemake job id: (rule, runs locally)} from the log of a run."""
    jobs, rule = {}, None
    for line in output.splitlines():
        if match := re.fullmatch(r"(local)?rule (\w+):", line.strip()):
            rule = (match[2], bool(match[1]))
        elif (match := re.fullmatch(r"jobid: (\d+)", line.strip())) and rule:
            jobs[match[1]], rule = rule, None
    return jobs


@pytest.fixture(scope="module")
def partition():
    """The partition of the local cluster: started here if it is not running, and then stopped after."""
    pytest.importorskip("snakemake_executor_plugin_slurm", reason='needs the slurm extra: pip install -e ".[slurm]"')
    status = subprocess.run(["bash", str(CLUSTER), "status"], capture_output=True, text=True, timeout=60)
    if status.returncode == 0:
        yield status.stdout.split()[-1]
        return
    if os.geteuid() != 0:
        pytest.skip("no local SLURM is running, and starting one (.ci/local-slurm.sh start) needs root")
    started = subprocess.run(["bash", str(CLUSTER), "start"], capture_output=True, text=True, timeout=1200)
    if started.returncode == 3:  # slurm-wlm and munge are missing and cannot be installed
        pytest.skip(started.stderr.strip().splitlines()[-1])
    assert started.returncode == 0, f"{CLUSTER} start failed:\n{started.stderr[-4000:]}"
    yield started.stdout.split()[-1]
    subprocess.run(["bash", str(CLUSTER), "stop"], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def finished(partition, tmp_path_factory):
    """The workdir of a finished run and Snakemake's log of it."""
    workdir = tmp_path_factory.mktemp("slurm")
    resources = [f"{rule}:{key}={value}" for rule in rule_names(workdir)
                 for key, value in (("mem_mb", MEM_MB), ("slurm_partition", partition))]
    result = run_snakemake(
        workdir, CONFIG,
        "--workflow-profile", str(PROFILE),
        # this cluster has no accounting database (sacct) and no accounts
        "--slurm-status-command", "squeue",
        "--slurm-init-seconds-before-status-checks", "2",
        "--slurm-no-account",
        "--slurm-keep-successful-logs",
        "--set-resources", *resources,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return workdir, output


def test_every_job_ran_through_slurm(partition, finished):
    workdir, output = finished
    jobs = snakemake_jobs(output)
    submitted = dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+) ", output))
    # every job but the local target rule went to SLURM, once
    assert submitted.keys() == {job for job, (_, local) in jobs.items() if not local}, output[-6000:]
    assert len(set(submitted.values())) == len(submitted)
    rules = sorted(jobs[job][0] for job in submitted)
    assert {"simulate", "embed", TRAIN_RULE, "latent", "score", "collect", "figure2"} <= set(rules)
    assert [rule for rule in rules if rule.startswith("train")] == [TRAIN_RULE]  # one job per group
    assert rules.count("latent") == len(RUNS)
    # SLURM wrote each job's output to the executor's log folder of its rule
    logs = workdir / ".snakemake" / "slurm_logs"
    for job, slurm_id in submitted.items():
        log = list(logs.glob(f"rule_{jobs[job][0]}/**/{slurm_id}.log"))
        assert len(log) == 1 and log[0].stat().st_size > 0, (jobs[job], slurm_id)
    # and slurmctld still knows each job (MinJobAge): completed, in this partition, run in this workdir
    squeue = subprocess.run(["squeue", "--states=all", "--noheader", "--jobs", ",".join(submitted.values()),
                             "--format=%i|%T|%P|%Z"], capture_output=True, text=True, timeout=60)
    assert squeue.returncode == 0, squeue.stderr
    known = {fields[0]: fields[1:] for fields in (line.split("|") for line in squeue.stdout.splitlines())}
    assert known.keys() == set(submitted.values()), squeue.stdout
    for state, job_partition, job_workdir in known.values():
        assert (state, job_partition, Path(job_workdir).resolve()) == ("COMPLETED", partition, workdir.resolve())


def test_every_output_exists(finished):
    workdir, _ = finished
    results = workdir / "results"
    expected = [results / "simulated" / name
                for name in ("counts.h5ad", "embedding.h5ad", "metrics/all.tsv", "metrics/max_abs_corr.tsv")]
    for run in RUNS:
        expected += [results / "simulated" / "models" / run / "model.pt",
                     results / "simulated" / "models" / run / "history.tsv",
                     results / "simulated" / "latents" / f"{run}.h5ad",
                     results / "simulated" / "metrics" / "runs" / f"{run}.tsv"]
    # the group's one training job logs one line per epoch with every model's loss
    log = (results / "logs" / "simulated" / "train" / "beta_g0.log").read_text()
    assert len(re.search(r"epoch 3/3  loss (.*?)  ", log).group(1).split()) == len(RUNS)
    expected += [results / "figures" / "figure2.png", results / "figures" / "figure2.pdf"]
    assert [path for path in expected if not path.is_file() or path.stat().st_size == 0] == []
    # and nothing is missing from what the workflow would build: a dry run has nothing to do
    rerun = run_snakemake(workdir, CONFIG, "--workflow-profile", str(PROFILE), "--dry-run")
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert "Nothing to be done" in rerun.stdout + rerun.stderr
