"""Training K models in one stacked step: each ends as if trained alone, resumes exactly, and refuses mixed groups."""
import logging

import numpy as np
import pandas as pd
import pytest
import torch

import scbeta
from scbeta import train as train_module
from scbeta.model import fit_many
from scbeta.objectives import OBJECTIVES, BetaVAE
from scbeta.simulate import simulate_counts
from scbeta.train import CHECKPOINT_FILE, CountStore, Group, train

TINY = {"n_hidden": 16, "batch_size": 32, "device": "cpu", "epochs": 5}
RUNS = {
    "beta": [{"objective": "beta", "beta": beta, "seed": seed} for beta, seed in ((1.0, 0), (4.0, 1), (10.0, 2))],
    "capacity": [{"objective": "capacity", "beta": beta, "c_max": 3.0, "seed": seed}
                 for beta, seed in ((1.0, 0), (4.0, 1), (10.0, 2))],
    "tcvae": [{"objective": "tcvae", "beta": beta, "seed": seed} for beta, seed in ((1.0, 0), (6.0, 1), (10.0, 2))],
    # float32 products: these tests compare code paths that must agree to float32 rounding.
    "factorvae": [{"objective": "factorvae", "seed": seed, "objective_params": {
                       "gamma": gamma, "discriminator_width": 16, "discriminator_precision": "float32"}}
                  for gamma, seed in ((1.0, 0), (10.0, 1), (40.0, 2))],
}


@pytest.fixture(scope="module")
def tiny():
    return simulate_counts(200, 50, n_identities=3, seed=3, lib_loc=7.0)


@pytest.fixture(autouse=True)
def one_thread():
    # Two threads on a shared 2-core machine wait on each other at every small op.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _numbers(history: pd.DataFrame) -> pd.DataFrame:
    return history.drop(columns="seconds")


@pytest.mark.parametrize("objective", sorted(RUNS))
def test_a_model_in_a_stack_ends_as_when_trained_alone(tiny, objective):
    stacked = fit_many(tiny, RUNS[objective], **TINY)
    alone = fit_many(tiny, RUNS[objective][1:2], **TINY)[0]
    assert len(stacked) == 3 and isinstance(stacked[1].module, scbeta.module.VAE)
    np.testing.assert_allclose(stacked[1].history["loss"], alone.history["loss"], rtol=1e-4)
    np.testing.assert_allclose(_numbers(stacked[1].history), _numbers(alone.history), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(stacked[1].latent(tiny), alone.latent(tiny), atol=1e-4)
    # The other models differ: their own seeds and weights.
    assert not np.allclose(stacked[0].latent(tiny), stacked[1].latent(tiny))
    assert stacked[2].params["seed"] == 2 and stacked[1].params == alone.params


def test_fit_is_fit_many_with_one_run(tiny):
    run = RUNS["capacity"][1]
    one = scbeta.fit(tiny, objective="capacity", beta=run["beta"], c_max=run["c_max"], seed=run["seed"], **TINY)
    many = fit_many(tiny, [run], **TINY)[0]
    np.testing.assert_array_equal(one.latent(tiny), many.latent(tiny))


def test_saved_model_of_a_group_loads_with_the_same_latent_and_objective(tiny, tmp_path):
    models = fit_many(tiny, RUNS["factorvae"][:2], **{**TINY, "epochs": 2})
    models[1].save(tmp_path / "m")
    loaded = scbeta.load(tmp_path / "m", device="cpu")
    np.testing.assert_array_equal(models[1].latent(tiny), loaded.latent(tiny))
    assert float(loaded.objective.gamma) == 10.0
    for key, value in models[1].objective.state_dict().items():
        if torch.is_tensor(value):
            torch.testing.assert_close(loaded.objective.state_dict()[key], value, rtol=0, atol=0)
    steps = loaded.objective.optimizer.state_dict()["state"][0]["step"]
    assert float(steps) == 2 * 7  # 7 steps per epoch (200 cells, batches of 32, the last of 8)


def _build_group(adata, runs, **training):
    """The group `fit_many` would train, for calling the loop directly."""
    from scbeta.model import StackedVAE, _build, _run_params, run_name

    base = {"n_genes": adata.n_vars, "n_cells": adata.n_obs, "n_latent": 10, "n_hidden": 16, "n_layers": 1,
            "dropout": 0.1, "likelihood": training.get("likelihood", "zinb"), "epochs": 4, "batch_size": 32,
            "lr": 1e-3}
    params = [_run_params(run, base, {"capacity_share": 0.8, "kl_warmup_share": 1.0}) for run in runs]
    built = []
    for p in params:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(p["seed"])
            built.append(_build(p, torch.device("cpu")))
    vaes, objectives = zip(*built)
    return Group(StackedVAE(vaes), type(objectives[0]).stack(objectives),
                 [torch.Generator().manual_seed(p["seed"]) for p in params], [run_name(r) for r in runs])


@pytest.mark.parametrize(("objective", "likelihood", "dense"),
                         [("beta", "zinb", True), ("beta", "nb", False), ("factorvae", "zinb", True)])
def test_static_buffer_step_gives_the_eager_numbers(tiny, objective, likelihood, dense):
    # The step a CUDA graph captures: fixed-size index buffer, dense counts (or padded CSR
    # entries), the dense lgamma term; the last short batch eagerly. On the CPU, without capture.
    from scbeta.data import counts_matrix

    counts = counts_matrix(tiny, None)
    histories = {}
    for static in (False, True):
        group = _build_group(tiny, RUNS[objective][:2], likelihood=likelihood)
        store = CountStore(counts, torch.device("cpu"), dense=dense and static)
        histories[static] = train(group, store, epochs=4, batch_size=48, static_shapes=static)
    for eager, static in zip(histories[False], histories[True]):
        np.testing.assert_allclose(_numbers(static), _numbers(eager), rtol=1e-5, atol=1e-5)


def test_padded_batch_holds_the_same_cells():
    x = np.array([[0, 2, 0], [1, 0, 3], [0, 0, 5], [4, 4, 4]], dtype=np.float32)
    import scipy.sparse as sp

    store = CountStore(sp.csr_matrix(x), torch.device("cpu"))
    idx = torch.tensor([[2, 0], [3, 1]])
    exact, padded = store.batch(idx), store.batch(idx, static=True)
    np.testing.assert_array_equal(padded.x.numpy(), x[idx.numpy()])
    assert len(padded.rows) == 2 * store.max_entries(2) == 2 * 5
    theta = torch.rand(2, 3) + 0.5
    from scbeta.module import _lgamma_terms

    torch.testing.assert_close(_lgamma_terms(theta, padded), _lgamma_terms(theta, exact))
    dense = CountStore(sp.csr_matrix(x), torch.device("cpu"), dense=True).batch(idx)
    torch.testing.assert_close(_lgamma_terms(theta, dense), _lgamma_terms(theta, exact))


class _Stop(Exception):
    pass


def test_killed_group_resumes_from_its_checkpoint(tiny, tmp_path, monkeypatch, caplog):
    runs = RUNS["factorvae"][:2]
    training = {**TINY, "epochs": 4, "checkpoint_every": 2}
    reference = fit_many(tiny, runs, checkpoint=tmp_path / "ref", **training)

    write = train_module._save_checkpoint

    def write_then_die(*args, **kwargs):
        write(*args, **kwargs)
        raise _Stop  # the process dies right after its first checkpoint

    monkeypatch.setattr(train_module, "_save_checkpoint", write_then_die)
    with pytest.raises(_Stop):
        fit_many(tiny, runs, checkpoint=tmp_path / "ckpt", **training)
    monkeypatch.setattr(train_module, "_save_checkpoint", write)
    assert (tmp_path / "ckpt" / CHECKPOINT_FILE).exists()

    resumed = fit_many(tiny, runs, checkpoint=tmp_path / "ckpt", **training)
    for ours, theirs in zip(resumed, reference):
        np.testing.assert_array_equal(ours.latent(tiny), theirs.latent(tiny))
        pd.testing.assert_frame_equal(_numbers(ours.history), _numbers(theirs.history))
    assert not (tmp_path / "ckpt" / CHECKPOINT_FILE).exists()

    # A checkpoint of another configuration (another γ) is refused with a warning, and training starts afresh.
    monkeypatch.setattr(train_module, "_save_checkpoint", write_then_die)
    with pytest.raises(_Stop):
        fit_many(tiny, [{**runs[0], "objective_params": {**runs[0]["objective_params"], "gamma": 2.0}}, runs[1]],
                 checkpoint=tmp_path / "stale", **training)
    monkeypatch.setattr(train_module, "_save_checkpoint", write)
    with caplog.at_level(logging.WARNING, logger="scbeta"):
        fresh = fit_many(tiny, runs, checkpoint=tmp_path / "stale", **training)
    assert "belongs to another configuration" in caplog.text
    np.testing.assert_array_equal(fresh[1].latent(tiny), reference[1].latent(tiny))


class _CountsCells(BetaVAE):
    name = "counts_cells"

    def forward(self, out, progress):
        terms = super().forward(out, progress)
        terms["one"] = torch.ones_like(terms["loss"])
        return terms


class _Diverging(BetaVAE):
    name = "diverging"

    def forward(self, out, progress):
        terms = super().forward(out, progress)
        terms["loss"] = terms["loss"] * torch.where(self.beta > 5, float("nan"), 1.0)
        return terms


def test_history_means_and_columns(tiny, monkeypatch):
    monkeypatch.setitem(OBJECTIVES, "counts_cells", _CountsCells)
    # 193 cells in batches of 32: the last batch holds 1 cell, which is skipped; means are over 192.
    adata = tiny[:193].copy()
    models = fit_many(adata, [{"objective": "counts_cells", "seed": 0}, {"objective": "counts_cells", "seed": 1}],
                      **{**TINY, "epochs": 2})
    history = models[0].history
    assert (history["one"] == 1.0).all()
    kl_dims = history[[f"kl_dim{d}" for d in range(10)]].to_numpy()
    assert list(history.columns[-11:]) == [*(f"kl_dim{d}" for d in range(10)), "seconds"]
    np.testing.assert_allclose(kl_dims.sum(1), history["kl"], rtol=1e-5)
    np.testing.assert_allclose(history["neg_elbo"], history["recon"] + history["kl"], rtol=1e-5)
    assert (kl_dims >= 0).all()


def test_nan_names_the_run(tiny, monkeypatch):
    monkeypatch.setitem(OBJECTIVES, "diverging", _Diverging)
    runs = [{"objective": "diverging", "beta": 1.0, "seed": 0}, {"objective": "diverging", "beta": 10.0, "seed": 5}]
    with pytest.raises(FloatingPointError, match=r"^diverging_beta10_cmax0_seed5: loss became nan at epoch 1"):
        fit_many(tiny, runs, **TINY)


@pytest.mark.parametrize(("runs", "message"), [
    ([{"objective": "beta"}, {"objective": "tcvae"}], "one objective per group.*beta_beta1_cmax0_seed0.*tcvae"),
    ([{"objective": "factorvae", "objective_params": {"discriminator_width": 16}},
      {"objective": "factorvae", "objective_params": {"discriminator_width": 32}}], "differ in discriminator_width"),
    ([{"objective": "tcvae", "objective_params": {"tc_estimator": "mws"}}, {"objective": "tcvae"}],
     "differ in tc_estimator"),
    ([{"objective": "beta", "objective_params": {"gamma": 3.0}}], "objective 'beta' takes no 'gamma'"),
    ([{"objective": "factorvae", "beta": 4.0}], "objective 'factorvae' takes no beta"),
    ([{"objective": "beta", "seeds": 1}], "unknown key.*seeds"),
    ([], "at least one run"),
])
def test_bad_groups_are_refused(tiny, runs, message):
    with pytest.raises(ValueError, match=message):
        fit_many(tiny, runs, **TINY)
