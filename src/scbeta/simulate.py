"""Splatter-style counts with identity and activity programs (Zappia et al. 2017; Kotliar et al. 2019).

Gene means follow Splatter's gamma–Poisson model. Each cell belongs to one of `n_identities`
identity programs (Splatter-style log-normal differential-expression factors on a share of
genes); a share of cells also uses one of `n_activities` activity programs (log-normal
up-regulation of its own genes) at a usage u ~ Uniform(lo, hi). A cell's mean profile is
(1 − u)·identity profile + u·activity profile, each profile normalised to sum 1, times its
library size; biological variation (BCV) and Poisson sampling follow, then optional dropout.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True)
class SimulationParams:
    """Every parameter of the simulator; defaults are Splatter's where Splatter has the parameter."""

    n_cells: int = 5000
    n_genes: int = 2000
    n_identities: int = 5  # identity programs (cell types), equally likely
    n_activities: int = 1  # activity programs, shared across identities
    mean_shape: float = 0.6  # gene means ~ Gamma(shape, rate)
    mean_rate: float = 0.3
    outlier_prob: float = 0.05  # probability that a gene is an expression outlier
    outlier_loc: float = 4.0  # outlier factor ~ LogNormal(loc, scale), times the median gene mean
    outlier_scale: float = 0.5
    lib_loc: float = 11.0  # library size ~ LogNormal(loc, scale), in UMIs
    lib_scale: float = 0.2
    bcv_common: float = 0.1  # biological coefficient of variation, common part
    bcv_df: float = 60.0  # degrees of freedom of the BCV's scaled inverse χ²
    de_prob: float = 0.1  # share of genes differentially expressed per identity
    de_down_prob: float = 0.1  # share of those that go down
    de_loc: float = 0.1  # DE factor ~ LogNormal(loc, scale)
    de_scale: float = 0.4
    activity_gene_prob: float = 0.05  # share of genes in each activity program
    activity_loc: float = 1.0  # activity up-regulation factor ~ LogNormal(loc, scale)
    activity_scale: float = 0.5
    activity_cell_prob: float = 0.3  # share of cells that use an activity program
    activity_usage_min: float = 0.1  # usage u ~ Uniform(min, max) in those cells
    activity_usage_max: float = 0.7
    dropout_mid: float | None = None  # logistic dropout midpoint on log mean; None: no dropout
    dropout_shape: float = -1.0  # logistic dropout slope (negative: low means drop out more)
    seed: int = 0

    def __post_init__(self) -> None:
        positive = ("n_cells", "n_genes", "n_identities", "mean_shape", "mean_rate", "bcv_df")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"simulation parameter {name} must be > 0, got {getattr(self, name)}")
        for name in ("outlier_prob", "de_prob", "de_down_prob", "activity_gene_prob", "activity_cell_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"simulation parameter {name} must be in [0, 1], got {getattr(self, name)}")
        if not 0 <= self.activity_usage_min <= self.activity_usage_max < 1:
            raise ValueError("simulation parameters need 0 <= activity_usage_min <= activity_usage_max < 1, got "
                             f"{self.activity_usage_min}, {self.activity_usage_max}")
        if self.n_activities < 0:
            raise ValueError(f"simulation parameter n_activities must be >= 0, got {self.n_activities}")


def _gene_means(p: SimulationParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    means = rng.gamma(p.mean_shape, 1.0 / p.mean_rate, size=p.n_genes)
    is_outlier = rng.random(p.n_genes) < p.outlier_prob
    factors = rng.lognormal(p.outlier_loc, p.outlier_scale, size=p.n_genes)
    means = np.where(is_outlier, np.median(means) * factors, means)
    return means, is_outlier


def _de_factors(n_genes: int, prob: float, down_prob: float, loc: float, scale: float,
                rng: np.random.Generator) -> np.ndarray:
    """Splatter's DE factors: 1 for most genes, LogNormal(loc, scale) (or its inverse if down) for a share."""
    is_de = rng.random(n_genes) < prob
    is_down = rng.random(n_genes) < down_prob
    factors = rng.lognormal(loc, scale, size=n_genes)
    factors = np.where(is_down, 1.0 / factors, factors)
    return np.where(is_de, factors, 1.0)


def _stack_rows(blocks: list[sp.csr_matrix]) -> sp.csr_matrix:
    """`scipy.sparse.vstack` of CSR row blocks that empties `blocks` as it copies them.

    The result's arrays are allocated empty and filled block by block, each block freed once
    copied; since the operating system commits pages only when they are written, peak memory is
    about the result plus one block, not twice the result (11 → 7 GiB at a million cells).
    """
    n_rows = sum(block.shape[0] for block in blocks)
    nnz = sum(block.nnz for block in blocks)
    index_dtype = np.int32 if nnz < np.iinfo(np.int32).max else np.int64
    data = np.empty(nnz, dtype=np.float32)
    indices = np.empty(nnz, dtype=index_dtype)
    indptr = np.zeros(n_rows + 1, dtype=index_dtype)
    n_cols = blocks[0].shape[1]
    row = offset = 0
    while blocks:
        block = blocks.pop(0)
        data[offset:offset + block.nnz] = block.data
        indices[offset:offset + block.nnz] = block.indices
        indptr[row + 1:row + 1 + block.shape[0]] = block.indptr[1:] + offset
        row, offset = row + block.shape[0], offset + block.nnz
        del block
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))


def simulate_counts(n_cells: int = 5000, n_genes: int = 2000, n_identities: int = 5, n_activities: int = 1,
                    *, seed: int = 0, chunk_size: int = 20_000, **params: float) -> ad.AnnData:
    """Simulate raw counts (cells × genes, integer-valued float32 CSR) with known generative programs.

    Keyword arguments are the fields of `SimulationParams`. The AnnData keeps the ground truth:
    `obs["identity"]` (categorical), `obs["identity_00"]`, … (usage of each identity program,
    1 − u in its cells, else 0), `obs["activity_00"]`, … (usage u), `obs["library_size"]` (UMIs
    drawn before sampling); `var` holds base means, outlier flags and every program's factors;
    `uns["simulation"]` all parameters. Deterministic given `seed` (and `chunk_size`).
    """
    p = SimulationParams(n_cells=n_cells, n_genes=n_genes, n_identities=n_identities,
                         n_activities=n_activities, seed=seed, **params)
    rng = np.random.default_rng(seed)
    base_means, is_outlier = _gene_means(p, rng)
    identity_factors = np.stack([_de_factors(p.n_genes, p.de_prob, p.de_down_prob, p.de_loc, p.de_scale, rng)
                                 for _ in range(p.n_identities)])
    activity_factors = np.stack([_de_factors(p.n_genes, p.activity_gene_prob, 0.0, p.activity_loc,
                                             p.activity_scale, rng) for _ in range(p.n_activities)]) \
        if p.n_activities else np.ones((0, p.n_genes))
    identity_profiles = base_means * identity_factors
    identity_profiles /= identity_profiles.sum(axis=1, keepdims=True)
    activity_profiles = base_means * activity_factors
    activity_profiles /= np.maximum(activity_profiles.sum(axis=1, keepdims=True), 1e-300)

    identity = rng.integers(p.n_identities, size=p.n_cells)
    uses_activity = (rng.random(p.n_cells) < p.activity_cell_prob) & (p.n_activities > 0)
    activity = rng.integers(max(p.n_activities, 1), size=p.n_cells)
    usage = np.where(uses_activity, rng.uniform(p.activity_usage_min, p.activity_usage_max, size=p.n_cells), 0.0)
    library = rng.lognormal(p.lib_loc, p.lib_scale, size=p.n_cells)
    # One χ² draw per gene scales every cell's BCV for that gene, as in Splatter.
    bcv_gene_scale = np.sqrt(p.bcv_df / rng.chisquare(p.bcv_df, size=p.n_genes))

    chunks = []
    for start in range(0, p.n_cells, chunk_size):
        cells = slice(start, min(start + chunk_size, p.n_cells))
        u = usage[cells, None]
        profile = (1.0 - u) * identity_profiles[identity[cells]]
        if p.n_activities:
            profile = profile + u * activity_profiles[activity[cells]]
        means = library[cells, None] * profile
        bcv = (p.bcv_common + 1.0 / np.sqrt(means)) * bcv_gene_scale
        shape = 1.0 / bcv**2
        cell_means = rng.gamma(shape, means / shape)
        counts = rng.poisson(cell_means)
        if p.dropout_mid is not None:
            with np.errstate(divide="ignore"):
                drop_prob = 1.0 / (1.0 + np.exp(-p.dropout_shape * (np.log(cell_means) - p.dropout_mid)))
            counts = counts * (rng.random(counts.shape) >= drop_prob)
        chunks.append(sp.csr_matrix(counts.astype(np.float32)))
    x = _stack_rows(chunks)

    identity_names = [f"identity_{k:02d}" for k in range(p.n_identities)]
    activity_names = [f"activity_{k:02d}" for k in range(p.n_activities)]
    obs = pd.DataFrame(index=pd.Index([f"cell_{i:07d}" for i in range(p.n_cells)], name="cell"))
    obs["identity"] = pd.Categorical.from_codes(identity, categories=identity_names)
    for k, name in enumerate(identity_names):
        obs[name] = np.where(identity == k, 1.0 - usage, 0.0)
    for k, name in enumerate(activity_names):
        obs[name] = np.where(uses_activity & (activity == k), usage, 0.0)
    obs["library_size"] = library
    var = pd.DataFrame({"base_mean": base_means, "is_outlier": is_outlier},
                       index=pd.Index([f"gene_{g:05d}" for g in range(p.n_genes)], name="gene"))
    for name, factors in zip(identity_names + activity_names, [*identity_factors, *activity_factors]):
        var[f"{name}_factor"] = factors
        var[f"{name}_gene"] = factors != 1.0
    adata = ad.AnnData(X=x, obs=obs, var=var)
    adata.uns["simulation"] = {k: ("none" if v is None else v) for k, v in asdict(p).items()}
    adata.uns["factors"] = identity_names + activity_names
    return adata


def factor_names(adata: ad.AnnData) -> list[str]:
    """The generative factors recorded by `simulate_counts` (identity then activity programs)."""
    return list(adata.uns["factors"])
