import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

import scbeta
from scbeta.baselines import fit_baseline, fit_baseline_with_loadings
from scbeta.config import ConfigError
from scbeta.model import Model
from scbeta.module import VAE
from scbeta.objectives import BetaVAE
from scbeta.programs import (baseline_programs, check_gene_sets, program_truth, read_gene_set, recovery,
                             tidy_programs, traversal_ends)

N_GENES, N_LATENT, N_HIDDEN = 30, 4, 8
DRIVING_DIM, DRIVEN_GENE, OFFSET = 2, 5, 0.5


def hand_built_model() -> Model:
    """A VAE whose decoder reads latent dimension 2 only, and writes it into gene 5 only.

    Encoder: posterior mean of dimension d = log1p(counts of gene d), so cells spread on every
    dimension. Decoder: hidden unit 0 = z_2 + 0.5 (positive, so the ReLU passes it; small, so
    gene 5 does not take the whole softmax); the logit of gene 5 = hidden unit 0; every other
    logit is 0. BatchNorm layers pass values unchanged (running mean 0, variance 1, unit weight).
    """
    module = VAE(N_GENES, N_LATENT, n_hidden=N_HIDDEN, n_layers=1, dropout=0.0, likelihood="nb")
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.zero_()
        for block in (module.encoder, module.decoder):
            block[1].weight.fill_(1.0)
            block[1].eps = 0.0
        module.encoder[0].weight[:N_LATENT, :N_LATENT] = torch.eye(N_LATENT)
        module.z_mean.weight[:, :N_LATENT] = torch.eye(N_LATENT)
        module.decoder[0].weight[0, DRIVING_DIM] = 1.0
        module.decoder[0].bias[0] = OFFSET
        module.scale_logits.weight[DRIVEN_GENE, 0] = 1.0
    module.eval()
    return Model(module, BetaVAE(), {}, [f"g{g}" for g in range(N_GENES)], pd.DataFrame())


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(0)
    x = rng.poisson(5.0, size=(200, N_GENES)).astype(np.float32)
    return ad.AnnData(sp.csr_matrix(x), var=pd.DataFrame(index=[f"g{g}" for g in range(N_GENES)]))


def test_traversal_of_a_hand_built_decoder_finds_its_one_gene(counts):
    model = hand_built_model()
    programs = scbeta.tl.gene_programs(model, counts, span=0.8, n_cells=50, seed=1)
    assert list(programs.columns) == ["dim", "gene", "score", "rank"]
    assert len(programs) == N_LATENT * N_GENES
    driven = programs[programs["dim"] == DRIVING_DIM].set_index("gene")
    assert driven.loc[f"g{DRIVEN_GENE}", "rank"] == 1
    assert (driven.drop(f"g{DRIVEN_GENE}")["rank"] > 1).all()
    # Known answer: log2 proportion of gene 5 is h − log(e^h + 29), with h = z_2 + 10 at either end.
    low, high = traversal_ends(np.log1p(counts.X.toarray()[:, :N_LATENT]), 0.8)

    def log2_share(z):
        h = z + OFFSET
        return (h - np.log(np.exp(h) + N_GENES - 1)) / np.log(2)

    expected = log2_share(high[DRIVING_DIM]) - log2_share(low[DRIVING_DIM])
    assert expected > 0.5
    assert driven.loc[f"g{DRIVEN_GENE}", "score"] == pytest.approx(expected, rel=1e-4)
    assert (driven.drop(f"g{DRIVEN_GENE}")["score"] < 0).all()  # the softmax takes their share
    others = programs[programs["dim"] != DRIVING_DIM]
    assert np.abs(others["score"]).max() < 1e-6


def test_same_seed_same_programs_and_genes_are_checked(counts):
    model = hand_built_model()
    first = scbeta.tl.gene_programs(model, counts, n_cells=20, seed=3)
    pd.testing.assert_frame_equal(first, scbeta.tl.gene_programs(model, counts, n_cells=20, seed=3))
    with pytest.raises(ValueError, match="differ from the 30 genes"):
        scbeta.tl.gene_programs(model, counts[:, :10], n_cells=20)
    with pytest.raises(ValueError, match="span must be in"):
        scbeta.tl.gene_programs(model, counts, span=1.5)


def test_rank_is_by_absolute_score_within_a_dimension():
    table = tidy_programs(np.array([[0.1, -3.0, 2.0], [0.0, 0.0, 1.0]]), ["a", "b", "c"])
    assert table[table["dim"] == 0].set_index("gene")["rank"].to_dict() == {"a": 3, "b": 1, "c": 2}
    assert table[table["dim"] == 1].set_index("gene")["rank"].to_dict() == {"a": 2, "b": 2, "c": 1}


def test_recovery_known_answers():
    truth = np.zeros(1000, dtype=bool)
    truth[:50] = True
    perfect = np.where(truth, -5.0, 0.1)  # sign does not matter: ranked by |score|
    assert recovery(perfect, truth) == (1.0, 1.0)
    assert recovery(-np.abs(perfect) + 5, truth)[0] == 0.0  # program genes ranked last
    rng = np.random.default_rng(0)
    aurocs, aps = zip(*(recovery(rng.normal(size=1000), truth) for _ in range(50)))
    assert np.mean(aurocs) == pytest.approx(0.5, abs=0.02)
    assert np.mean(aps) == pytest.approx(0.05, abs=0.01)  # chance: the share of program genes
    assert all(np.isnan(recovery(perfect, np.zeros(1000, dtype=bool))))
    with pytest.raises(ValueError, match="one value per gene"):
        recovery(perfect[:10], truth)


def test_baseline_loadings_go_with_the_embedding_and_find_simulated_programs(small_counts):
    truth = small_counts.var["identity_00_gene"].to_numpy()
    factor = small_counts.obs[["identity_00"]]
    for method in ("pca", "ica", "nmf"):
        embedding, loadings, _ = fit_baseline_with_loadings(method, small_counts.X, 5, seed=0)
        np.testing.assert_array_equal(embedding, fit_baseline(method, small_counts.X, 5, seed=0))
        assert loadings.shape == (small_counts.n_vars, 5)
        dim = int(scbeta.metrics.max_abs_corr(embedding, factor).loc["identity_00", "dim"])
        programs = baseline_programs(loadings, small_counts.var_names)
        auroc, _ = recovery(programs[programs["dim"] == dim]["score"], truth)
        assert auroc > 0.65, method


def test_truth_comes_from_the_simulator_or_a_gene_set(small_counts, tmp_path):
    var = small_counts.var
    np.testing.assert_array_equal(program_truth(var, "activity_00", {}), var["activity_00_gene"].to_numpy())
    assert program_truth(var, "stim", {}) is None
    assert program_truth(var, "stim", {"stim": ["gene_00003", "NOTAGENE"]}).sum() == 1
    path = tmp_path / "set.txt"
    path.write_text("# source: a test\nISG15\n\nMX1  # a comment\nISG15\n")
    assert read_gene_set(path) == ["ISG15", "MX1"]
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(ValueError, match="lists no genes"):
        read_gene_set(tmp_path / "empty.txt")


def test_gene_set_config_errors_name_the_key(tmp_path):
    (tmp_path / "set.txt").write_text("MX1\n")
    config = {"datasets": {"real": {"factors": ["stim"], "gene_sets": {"stim": {"path": "set.txt", "source": "x"}}}}}
    check_gene_sets(config, tmp_path)  # relative paths fall back to the repository folder
    config["datasets"]["real"]["gene_sets"]["stim"]["path"] = "missing.txt"
    with pytest.raises(ConfigError, match=r"^config key datasets.real.gene_sets.stim.path: gene set file .* does not"):
        check_gene_sets(config, tmp_path)
    config["datasets"]["real"]["gene_sets"] = {"cell": {"path": "set.txt", "source": "x"}}
    with pytest.raises(ConfigError, match="'cell' is not one of the dataset's factors"):
        check_gene_sets(config, tmp_path)


def test_figure_labels_each_dimension_with_its_matched_factor():
    from scbeta.plots.programs import programs_figure, top_gene_matrix

    rng = np.random.default_rng(0)
    genes = [f"g{g}" for g in range(12)]
    programs = {f"beta_beta{b}_cmax0_seed0": tidy_programs(rng.normal(size=(3, 12)), genes) for b in (1, 10)}
    rows = []
    for beta in (1, 10):
        for seed in (0, 1):
            run = f"beta_beta{beta}_cmax0_seed{seed}"
            common = {"dataset": "d", "run": run, "method": "vae", "objective": "beta", "beta": beta, "c_max": 0.0,
                      "gamma": 0.0, "seed": seed}
            rows += [{**common, "metric": "max_abs_corr", "factor": "identity_00", "dim": 2, "value": 0.8},
                     {**common, "metric": "program_auroc", "factor": "identity_00", "dim": 2, "value": 0.7 + seed / 10}]
            if beta == 10:  # two factors on one dimension: one label, the shared word once
                rows.append({**common, "metric": "max_abs_corr", "factor": "identity_01", "dim": 2, "value": 0.7})
    rows.append({"dataset": "d", "run": "pca_seed0", "method": "pca", "objective": "", "beta": 0.0, "c_max": 0.0,
                 "gamma": 0.0, "seed": 0, "metric": "program_auroc", "factor": "identity_00", "dim": 1, "value": 0.6})
    matrix = top_gene_matrix(programs["beta_beta1_cmax0_seed0"], 2)
    strongest = programs["beta_beta1_cmax0_seed0"].query("rank <= 2")
    assert list(matrix.index) == list(dict.fromkeys(strongest.sort_values(["dim", "rank"])["gene"]))
    assert list(matrix.columns) == [0, 1, 2]
    fig = programs_figure(pd.DataFrame(rows), programs, n_genes_per_dim=2)
    heatmaps = [ax for ax in fig.axes if ax.get_title().startswith("β = ")]
    assert [ax.get_title() for ax in heatmaps] == ["β = 1", "β = 10"]
    assert [t.get_text() for t in heatmaps[0].get_xticklabels()] == ["0", "1", "2 Identity 00"]
    assert [t.get_text() for t in heatmaps[1].get_xticklabels()] == ["0", "1", "2 Identity 00+01"]
    recovery_axes = [ax for ax in fig.axes if ax.get_title() == "Identity 00"]
    assert len(recovery_axes) == 1
    assert any(line.get_gid() == "baseline=PCA" for line in recovery_axes[0].lines)
