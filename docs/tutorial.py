# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Tutorial: a β sweep on interferon-stimulated PBMCs
#
# This tutorial uses `scbeta` as a library, on a small real subset of the Kang et al. (2018)
# PBMCs: 1,556 cells of two donors, control or 6 h after interferon-β, five cell types. It trains
# three β-VAEs at once, checks how much of the latent space each one uses, finds the dimensions
# that follow the stimulation and the cell types, and reads the gene program of the interferon
# dimension. It runs in about a minute on 2 CPU cores; the documentation build runs it, so every
# output below comes from the code above it.
#
# The data are the six files of GEO GSE96583 (batch 2) in their GEO layout, cut down to the
# subset of the muscat package's `example_sce` (`docs/data/kang2018_subset/README.md` says how).
# The full study uses all 25,000 cells of the same files.
#
# To run it yourself, from the repository's root or its `docs/` folder: `python docs/tutorial.py`,
# or `jupytext --to notebook docs/tutorial.py` and open the notebook (`pip install -e ".[docs]"`
# installs jupytext).

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import scbeta
from scbeta.programs import read_gene_set, recovery

# The repository's root: the working directory of the documentation build, or the parent of docs/.
ROOT = Path.cwd() if (Path.cwd() / "docs").is_dir() else Path.cwd().parent
DATA = ROOT / "docs" / "data" / "kang2018_subset"
IFN_GENES = ROOT / "workflow" / "resources" / "ifn_genes.txt"  # the workflow's interferon-stimulated genes
print("scbeta", scbeta.__version__)

# %% [markdown]
# ## The data
#
# `scbeta.data.read_kang2018` reads the six GEO files into one AnnData of raw UMI counts, with
# the cell table's columns (`ind` donor, `stim`, `cell` type, `multiplets`) in `obs`.
# `prepare_kang2018` keeps the singlets with a cell type, ranks genes by Seurat v3 normalised
# variance on the counts, keeps the top `n_top_genes`, and adds `stim_indicator` (1.0 stimulated,
# 0.0 control). The study uses 2,000 genes; 500 keep this tutorial fast.

# %%
raw = scbeta.data.read_kang2018(DATA)
cells = scbeta.data.prepare_kang2018(raw, n_top_genes=500)
print(raw.shape, "->", cells.shape)
pd.crosstab(cells.obs["cell"], cells.obs["stim"])

# %% [markdown]
# ## A small β sweep
#
# `scbeta.fit_many` trains several models of one objective in one stacked training loop; each
# model is initialised and shuffled from its own seed, so it ends as `scbeta.fit` alone would
# leave it. Here: β-VAEs at β = 1, 2 and 5 (the Kang et al. sweep of the study runs from 1 to 5),
# 60 epochs, the KL weight warming up over all of them (the study: up to 400 epochs, a 400-epoch
# warm-up). Each returned `Model` has its per-epoch `history`.

# %%
betas = [1.0, 2.0, 5.0]
runs = [{"objective": "beta", "beta": beta, "c_max": 0.0, "seed": 0} for beta in betas]
models = scbeta.fit_many(cells, runs, epochs=60, kl_warmup_epochs=60, device="cpu")
pd.DataFrame({f"β = {beta:g}": model.history.iloc[-1][["loss", "recon", "kl", "neg_elbo"]]
              for beta, model in zip(betas, models)}).round(1)

# %% [markdown]
# ## How much of the latent space each model uses
#
# A latent dimension whose posterior mean does not vary over cells carries no information about
# them: the model has let it collapse onto the N(0, 1) prior. `metrics.latent_activity` is that
# variance per dimension, `metrics.active_units` counts dimensions above 0.01 (Burda et al. 2016),
# and `metrics.kl_per_dim` gives each dimension's KL from the prior in nats per cell; their sum is
# the model's KL term. A larger β shrinks the KL of every dimension, some of them to almost
# nothing: those dimensions are on their way to the prior, even where their means still vary
# enough across cells to count as active.

# %%
posteriors = [model.posterior(cells) for model in models]  # (means, variances), cells × 10 each
kl = pd.DataFrame([scbeta.metrics.kl_per_dim(mean, var) for mean, var in posteriors],
                  index=[f"β = {beta:g}" for beta in betas]).round(2)
kl.columns = [f"dim {d}" for d in kl.columns]
kl.insert(0, "active units", [scbeta.metrics.active_units(mean) for mean, _ in posteriors])
kl

# %% [markdown]
# ## Which dimension follows the stimulation, and which the cell types
#
# `metrics.max_abs_corr` is the preprint's score: for each numeric factor, the dimension with the
# largest |Pearson correlation| across cells. `metrics.identity_accuracy` asks, for each cell
# type, how well the single best dimension separates it from all other cells (cross-validated
# balanced accuracy, 0.5 = chance). Each entry is the score and, in brackets, its dimension.

# %%
alignment, stim_dims, identity = {}, {}, {}
for beta, (mean, _) in zip(betas, posteriors):
    stim = scbeta.metrics.max_abs_corr(mean, cells.obs[["stim_indicator"]]).loc["stim_indicator"]
    stim_dims[beta] = int(stim["dim"])
    identity[beta] = scbeta.metrics.identity_accuracy(mean, cells.obs["cell"]).set_index("label")
    row = {"stimulation, |corr|": f"{stim['abs_corr']:.2f} (dim {stim_dims[beta]})"}
    row.update({t.Index: f"{t.balanced_accuracy:.2f} (dim {t.dim})" for t in identity[beta].itertuples()})
    alignment[f"β = {beta:g}"] = row
pd.DataFrame(alignment).T

# %% [markdown]
# ## The interferon dimension's gene program
#
# `scbeta.tl.gene_programs` reads a gene program off each dimension by decoder traversal: the
# dimension moves from the 5th to the 95th percentile of the cells' posterior means, the others
# stay at each cell's own, and a gene's score is the log2 fold change of its expected expression.
# For the stimulation dimension of the β = 5 model, the top genes should be interferon-stimulated
# genes; `scbeta.programs.recovery` scores the whole ranking by |score| against the workflow's
# list of them (`workflow/resources/ifn_genes.txt`, after MSigDB's
# HALLMARK_INTERFERON_ALPHA_RESPONSE): the area under the ROC curve (0.5 = chance) and average
# precision (chance = the list's share of the genes). Genes that fall along the dimension
# (negative scores) show what else it encodes.

# %%
model, (mean, _) = models[-1], posteriors[-1]
stim_dim = stim_dims[betas[-1]]
programs = scbeta.tl.gene_programs(model, cells, n_cells=300, seed=0)
program = programs[programs["dim"] == stim_dim].sort_values("rank")
ifn = set(read_gene_set(IFN_GENES))
program = program.assign(interferon_stimulated=program["gene"].isin(ifn))
auroc, average_precision = recovery(program["score"], program["interferon_stimulated"])
print(f"dimension {stim_dim}: {program['interferon_stimulated'].sum()} of {len(program)} genes are in the "
      f"interferon list; AUROC {auroc:.3f}, average precision {average_precision:.3f}")
program.head(12)[["gene", "score", "rank", "interferon_stimulated"]].round(2)

# %% [markdown]
# ## A figure
#
# Left: the KL of each dimension per β (the collapse diagnostic). Middle: the β = 5 model's
# interferon dimension against its best B-cell dimension, cells coloured by condition. Right: the
# interferon dimension's top genes by |score|, those in the workflow's interferon list in red.

# %%
b_dim = int(identity[betas[-1]].loc["B cells", "dim"])
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")
width = 0.8 / len(betas)
for k, beta in enumerate(betas):
    values = kl.loc[f"β = {beta:g}"].drop("active units").to_numpy(dtype=float)
    axes[0].bar(np.arange(len(values)) + k * width, values, width, label=f"β = {beta:g}")
axes[0].set_xticks(np.arange(len(values)) + width * (len(betas) - 1) / 2, np.arange(len(values)))
axes[0].set(xlabel="latent dimension", ylabel="KL from the prior (nats per cell)", title="KL per dimension")
axes[0].legend(frameon=False)
stimulated = cells.obs["stim"].to_numpy() == "stim"
for mask, label, colour in ((~stimulated, "control", "tab:grey"), (stimulated, "IFN-β", "tab:red")):
    axes[1].scatter(mean[mask, stim_dim], mean[mask, b_dim], s=4, alpha=0.5, color=colour, label=label)
axes[1].set(xlabel=f"dimension {stim_dim} (stimulation)", ylabel=f"dimension {b_dim} (B cells)",
            title=f"β = {betas[-1]:g}: two dimensions")
axes[1].legend(frameon=False, markerscale=3)
top = program.head(15).iloc[::-1]
axes[2].barh(top["gene"], top["score"], color=np.where(top["interferon_stimulated"], "tab:red", "tab:grey"))
axes[2].set(xlabel="log2 fold change across the dimension", title=f"dimension {stim_dim}: top genes")
plt.show()

# %% [markdown]
# The workflow does all of this for every run of the study, with three seeds per β, confidence
# intervals, the disentanglement scores (MIG, DCI, SAP, …) and baselines: see
# [The study and its outputs](study.md).
