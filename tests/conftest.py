import os
import sys
from pathlib import Path

import pytest

from scbeta.simulate import simulate_counts

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # shared test helpers (geo_fixture)


@pytest.fixture(scope="session")
def small_counts():
    """A small simulated dataset with clear programs: 600 cells × 150 genes."""
    return simulate_counts(600, 150, n_identities=3, n_activities=1, seed=3, lib_loc=7.5, lib_scale=0.3,
                           de_prob=0.2, de_loc=1.0, de_scale=0.5, activity_gene_prob=0.1)


def snakemake_command(workdir: Path, config: dict, *args: str) -> tuple[list[str], dict[str, str]]:
    """The real `snakemake` command of this repository in `workdir` with `config` layered on config.yaml, and
    its environment."""
    import yaml

    workdir.mkdir(parents=True, exist_ok=True)
    configfile = workdir / "test-config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(configfile), *args]
    # Test servers listen on 127.0.0.1: no proxy may stand between.
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return command, env


def run_snakemake(workdir: Path, config: dict, *args: str, timeout: int = 900):
    """Run `snakemake_command` to its end."""
    import subprocess

    command, env = snakemake_command(workdir, config, *args)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


TINY_CONFIG = {
    "seeds": [0, 1],
    "training": {"epochs": 3, "n_hidden": 32, "checkpoint_every": 2, "threads": 1, "device": "cpu",
                 "models_per_job": 3},
    "evaluation": {"neighbors_method": "gauss"},
    "datasets": {
        "simulated": {
            "simulate": {"n_cells": 300, "n_genes": 120, "de_prob": 0.2},
            "sweep": [{"objective": "beta", "beta": [1, 10]},
                      {"objective": "capacity", "beta": [1, 10], "c_max": [5]},
                      {"objective": "tcvae", "beta": [6]},
                      {"objective": "factorvae", "gamma": [10], "discriminator_width": 32}],
            "baselines": ["pca"],
        },
        "kang2018": {"enabled": False},
    },
}
