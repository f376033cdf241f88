import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

import scbeta
from scbeta.objectives import OBJECTIVES, BetaVAE
from scbeta.train import default_epochs, pick_device

FAST = {"n_hidden": 32, "batch_size": 64, "device": "cpu"}


def test_loss_falls_on_simulated_counts(small_counts):
    model = scbeta.fit(small_counts, epochs=8, seed=0, **FAST)
    history = model.history
    assert list(history["epoch"]) == list(range(1, 9))
    assert history["neg_elbo"].iloc[-1] < 0.9 * history["neg_elbo"].iloc[0]
    assert {"loss", "recon", "kl", "seconds"} <= set(history.columns)


@pytest.mark.parametrize("likelihood", ["nb", "zinb"])
def test_same_seed_same_latent_other_seed_differs(small_counts, likelihood):
    first = scbeta.fit(small_counts, epochs=2, seed=1, likelihood=likelihood, **FAST).latent(small_counts)
    second = scbeta.fit(small_counts, epochs=2, seed=1, likelihood=likelihood, **FAST).latent(small_counts)
    third = scbeta.fit(small_counts, epochs=2, seed=2, likelihood=likelihood, **FAST).latent(small_counts)
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, third)
    assert first.shape == (small_counts.n_obs, 10) and first.dtype == np.float32


def test_save_load_round_trip_gives_the_same_latent(small_counts, tmp_path):
    model = scbeta.fit(small_counts, objective="capacity", beta=3.0, c_max=2.0, epochs=2, **FAST)
    model.save(tmp_path / "model")
    loaded = scbeta.load(tmp_path / "model", device="cpu")
    np.testing.assert_array_equal(model.latent(small_counts), loaded.latent(small_counts))
    assert loaded.params["objective"] == "capacity" and loaded.params["objective_params"]["c_max"] == 2.0
    assert len(loaded.history) == 2


def test_capacity_objective_logs_c(small_counts):
    model = scbeta.fit(small_counts, c_max=4.0, epochs=4, kl_warmup_epochs=0, capacity_share=0.5, **FAST)
    assert model.params["objective"] == "capacity"
    c = model.history["C"].to_numpy()
    assert c[0] < c[1] and c[-1] == pytest.approx(4.0)


RESUME_SCRIPT = textwrap.dedent("""
    import logging, sys, numpy as np, scbeta
    logging.basicConfig(level=logging.INFO)
    from scbeta.simulate import simulate_counts
    adata = simulate_counts(600, 150, n_identities=3, seed=3, lib_loc=7.5)
    model = scbeta.fit(adata, epochs=6, seed=0, n_hidden=32, batch_size=64, device="cpu",
                       checkpoint=sys.argv[1], checkpoint_every=2)
    np.save(sys.argv[2], model.latent(adata))
    model.history.to_csv(sys.argv[3], sep="\\t", index=False)
""")


def _run(args, wait=True):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", RESUME_SCRIPT, *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_killed_training_resumes_from_its_checkpoint(tmp_path):
    reference = _run([tmp_path / "ref_ckpt", tmp_path / "ref.npy", tmp_path / "ref.tsv"])
    assert reference.wait(timeout=300) == 0, reference.stdout.read().decode()

    checkpoint = tmp_path / "ckpt" / "checkpoint.pt"
    victim = _run([tmp_path / "ckpt", tmp_path / "a.npy", tmp_path / "a.tsv"])
    deadline = time.time() + 300
    while not checkpoint.exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert checkpoint.exists(), "training finished before its first checkpoint"
    assert not (tmp_path / "a.npy").exists()

    resumed = _run([tmp_path / "ckpt", tmp_path / "b.npy", tmp_path / "b.tsv"])
    output = resumed.communicate(timeout=300)[0].decode()
    assert resumed.returncode == 0, output
    assert "resuming from" in output
    np.testing.assert_array_equal(np.load(tmp_path / "ref.npy"), np.load(tmp_path / "b.npy"))
    assert not checkpoint.exists()  # the finished model supersedes its checkpoint


class _Diverging(BetaVAE):
    name = "diverging"

    def forward(self, out, progress):
        terms = super().forward(out, progress)
        terms["loss"] = terms["loss"] * float("nan")
        return terms


def test_nan_loss_stops_with_a_clear_error(small_counts, monkeypatch, tmp_path):
    monkeypatch.setitem(OBJECTIVES, "diverging", _Diverging)
    with pytest.raises(FloatingPointError, match="loss became nan at epoch 1"):
        scbeta.fit(small_counts, objective="diverging", epochs=3, checkpoint=tmp_path / "ckpt", **FAST)
    assert not (tmp_path / "ckpt" / "checkpoint.pt").exists()  # no checkpoint of a diverged state


def test_non_integer_counts_are_refused(small_counts):
    bad = small_counts.copy()
    bad.X = bad.X.astype(np.float32) * 0.5
    with pytest.raises(ValueError, match="counts must be integers"):
        scbeta.fit(bad, epochs=1, **FAST)


def test_negative_counts_are_refused(small_counts):
    bad = small_counts.copy()
    bad.X.data[0] = -1
    with pytest.raises(ValueError, match="non-negative"):
        scbeta.fit(bad, epochs=1, **FAST)


def test_beta_objective_refuses_a_capacity(small_counts):
    with pytest.raises(ValueError, match="capacity"):
        scbeta.fit(small_counts, objective="beta", c_max=1.0, epochs=1, **FAST)


def test_latent_refuses_other_genes(small_counts):
    model = scbeta.fit(small_counts, epochs=1, **FAST)
    with pytest.raises(ValueError, match="genes"):
        model.latent(small_counts[:, :100])


def test_load_of_a_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a saved scbeta model"):
        scbeta.load(tmp_path / "nothing")


def test_default_epochs_is_scvi_heuristic():
    assert default_epochs(1000) == 400
    assert default_epochs(20000) == 400
    assert default_epochs(40000) == 200
    assert default_epochs(25000) == 320


def test_device_auto_prefers_cuda_then_mps_then_cpu():
    assert pick_device("auto", cuda=True, mps=True).type == "cuda"
    assert pick_device("auto", cuda=False, mps=True).type == "mps"
    assert pick_device("auto", cuda=False, mps=False).type == "cpu"
    assert pick_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="CUDA is not available"):
        pick_device("cuda", cuda=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert pick_device().type == expected


def test_fit_many_returns_one_model_per_run_in_order(small_counts, tmp_path):
    runs = [{"objective": "capacity", "beta": 10.0, "c_max": 0.0, "seed": 1, "objective_params": {}},
            {"objective": "capacity", "beta": 1.0, "c_max": 2.0, "seed": 0, "objective_params": {}}]
    models = scbeta.fit_many(small_counts, runs, checkpoint=tmp_path / "group", epochs=2, **FAST)
    assert [(m.params["objective"], m.params["objective_params"]["beta"], m.params["objective_params"]["c_max"],
             m.params["seed"]) for m in models] == [("capacity", 10.0, 0.0, 1), ("capacity", 1.0, 2.0, 0)]
    assert all(len(m.history) == 2 and m.latent(small_counts).shape == (600, 10) for m in models)
    assert not list((tmp_path / "group").rglob("checkpoint.pt"))


def test_posterior_gives_the_latent_and_positive_variances(small_counts):
    model = scbeta.fit(small_counts, epochs=2, seed=0, **FAST)
    mean, var = model.posterior(small_counts)
    np.testing.assert_array_equal(mean, model.latent(small_counts))
    assert var.shape == mean.shape == (small_counts.n_obs, 10) and var.dtype == np.float32
    assert (var > 1e-4).all()  # scVI's floor on the posterior variance
