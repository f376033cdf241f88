"""Gene programs of latent dimensions, and how well they recover known program genes.

A VAE dimension's gene program is read off by a decoder traversal (`gene_programs`): the
decoder is a nonlinear network (Linear → BatchNorm → ReLU, then a softmax over genes), so its
weights do not say how a gene's expression responds to one latent dimension — a weight into a
hidden unit that the ReLU switches off, or that the softmax normalises away, has no effect,
and the effect of a dimension depends on where the other dimensions are. Decoding cells whose
one dimension is moved, and reading the change of each gene's expected expression, measures
that response directly, at the places in latent space where the data are.

A linear baseline's program is its loading vector (`baseline_programs`): PCA and NMF
components, FastICA's mixing matrix.

`recovery` scores a dimension's gene ranking (by |score|) against a set of known program
genes: the area under the ROC curve (0.5 = chance, 1 = all program genes ranked first) and
average precision (chance = the share of program genes).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

if TYPE_CHECKING:
    from scbeta.model import Model

DEFAULT_N_CELLS = 500
DEFAULT_SPAN = 0.9
PROGRAM_COLUMNS = ["dim", "gene", "score", "rank"]


def tidy_programs(scores: np.ndarray, genes) -> pd.DataFrame:
    """Dimensions × genes scores as long rows (`PROGRAM_COLUMNS`); rank 1 = largest |score| in its dimension.

    Ties share the smallest rank ("min" method), so a dimension with all-zero scores ranks every gene 1.
    """
    scores = np.asarray(scores, dtype=np.float64)
    genes = np.asarray(list(map(str, genes)))
    if scores.ndim != 2 or scores.shape[1] != len(genes):
        raise ValueError(f"scores must be dimensions × {len(genes)} genes, got shape {scores.shape}")
    ranks = pd.DataFrame(-np.abs(scores)).rank(axis=1, method="min").to_numpy(dtype=np.int64)
    n_dims, n_genes = scores.shape
    return pd.DataFrame({"dim": np.repeat(np.arange(n_dims), n_genes), "gene": np.tile(genes, n_dims),
                         "score": scores.ravel(), "rank": ranks.ravel()})


def traversal_ends(latent: np.ndarray, span: float = DEFAULT_SPAN) -> tuple[np.ndarray, np.ndarray]:
    """Per dimension, the two ends of its traversal: the (1 − span)/2 and (1 + span)/2 quantiles of
    the cells' posterior means (latent units)."""
    if not 0 < span <= 1:
        raise ValueError(f"span must be in (0, 1], got {span}")
    low, high = np.quantile(np.asarray(latent, dtype=np.float64), [(1 - span) / 2, (1 + span) / 2], axis=0)
    return low, high


def gene_programs(model: Model, adata: ad.AnnData, *, span: float = DEFAULT_SPAN, n_cells: int = DEFAULT_N_CELLS,
                  seed: int = 0, layer: str | None = None) -> pd.DataFrame:
    """Each latent dimension's gene program, by decoder traversal.

    For dimension d, `n_cells` cells drawn at random (with `seed`) keep their posterior means on
    every other dimension; dimension d is set to the low and then the high end of its observed
    range, the central `span` share of all cells' posterior means (`traversal_ends`: 0.9 → from
    the 5th to the 95th percentile). A gene's score is the log2 fold change of its expected
    expression (library × decoded proportion; the library cancels) from the low to the high end,
    averaged over the cells: positive where the gene rises with d.

    The observed range, not ± k posterior standard deviations: an informative dimension's
    posterior is narrow (a few hundredths of its range), so a move of a few posterior standard
    deviations barely changes the decoded cell, while the same move on an unused dimension (posterior
    ≈ prior) looks large; the observed range moves each dimension across the values the data
    take, and an unused dimension, whose posterior means barely vary, scores ≈ 0.

    Returns one row per dimension × gene (`PROGRAM_COLUMNS`): `dim` (0-based), `gene`, `score`
    (log2 fold change) and `rank` (by |score| within the dimension, 1 = strongest).
    """
    import torch

    if n_cells < 1:
        raise ValueError(f"n_cells must be >= 1, got {n_cells}")
    latent = model.latent(adata, layer=layer)  # also checks the genes against the model's
    low, high = traversal_ends(latent, span)
    rng = np.random.default_rng(seed)
    cells = np.sort(rng.choice(adata.n_obs, size=min(n_cells, adata.n_obs), replace=False))
    module = model.module
    module.eval()
    base = torch.as_tensor(latent[cells], dtype=torch.float32, device=model.device)
    scores = np.empty((latent.shape[1], len(model.var_names)))
    with torch.no_grad():
        for dim in range(latent.shape[1]):
            ends = base.repeat(2, 1)
            ends[:len(cells), dim] = float(low[dim])
            ends[len(cells):, dim] = float(high[dim])
            log_scale = module.log_proportions(ends)
            change = (log_scale[len(cells):] - log_scale[:len(cells)]).mean(dim=0) / np.log(2.0)
            scores[dim] = change.double().cpu().numpy()
    return tidy_programs(scores, model.var_names)


def baseline_programs(loadings: np.ndarray, genes) -> pd.DataFrame:
    """A linear baseline's programs from its genes × components loadings (PCA or NMF components,
    FastICA mixing), as `gene_programs` rows; the score is the loading (units of the baseline's input)."""
    return tidy_programs(np.asarray(loadings).T, genes)


def recovery(scores, truth) -> tuple[float, float]:
    """AUROC and average precision of ranking genes by |score| against the known program genes `truth`
    (boolean per gene). NaN for both where `truth` has no program genes or no other genes."""
    truth = np.asarray(truth, dtype=bool)
    strength = np.abs(np.asarray(scores, dtype=np.float64))
    if strength.shape != truth.shape:
        raise ValueError(f"scores and truth must have one value per gene, got {strength.shape} and {truth.shape}")
    if truth.all() or not truth.any():
        return np.nan, np.nan
    return float(roc_auc_score(truth, strength)), float(average_precision_score(truth, strength))


def read_gene_set(path: str | os.PathLike) -> list[str]:
    """Gene names of a gene-set file: one per line; blank lines and lines from `#` on are ignored."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"gene set file {path} does not exist")
    genes = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    genes = list(dict.fromkeys(g for g in genes if g))
    if not genes:
        raise ValueError(f"gene set file {path} lists no genes (expected one gene name per line)")
    return genes


def program_truth(var: pd.DataFrame, factor: str, gene_sets: Mapping[str, list[str]]) -> np.ndarray | None:
    """The known program genes of `factor` as a boolean per gene of `var`: the simulator's
    `var[f"{factor}_gene"]`, else the factor's gene set; None where neither exists."""
    column = f"{factor}_gene"
    if column in var.columns:
        return var[column].to_numpy(dtype=bool)
    if factor in gene_sets:
        return var.index.isin(gene_sets[factor])
    return None


def resolve_gene_set_path(path: str, basedir: str | os.PathLike) -> str:
    """A configured gene-set path: as given if it exists from the working directory, else under `basedir`
    (the workflow's repository, where the shipped gene sets are)."""
    from scbeta._io import resolve_path

    return resolve_path(path, basedir)


def check_gene_sets(config: Mapping, basedir: str | os.PathLike) -> None:
    """Each enabled dataset's `gene_sets` must name one of its factors and a readable gene-set file.
    Raises a one-line ConfigError naming the config key."""
    from scbeta.config import ConfigError

    for name, spec in config["datasets"].items():
        if not spec.get("enabled", True):
            continue
        for factor, entry in (spec.get("gene_sets") or {}).items():
            where = f"config key datasets.{name}.gene_sets.{factor}"
            if factor not in spec["factors"]:
                raise ConfigError(f"{where}: {factor!r} is not one of the dataset's factors {spec['factors']}")
            try:
                read_gene_set(resolve_gene_set_path(entry["path"], basedir))
            except (OSError, ValueError) as error:
                raise ConfigError(f"{where}.path: {error}") from None
