"""Minibatch estimates of the KL term's decomposition (Chen et al. 2018): index-code mutual information,
total correlation of the aggregate posterior and dimension-wise KL, in nats. `BetaTCVAE` weighs the
total correlation; the tests check the estimators against Gaussians whose terms are known.
"""
from __future__ import annotations

import math

import torch

TC_ESTIMATORS = ("mws", "mss")
_LOG_2PI = math.log(2 * math.pi)


def _log_normal(x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(x; mu, exp(logvar)), in nats."""
    return -0.5 * (_LOG_2PI + logvar + (x - mu).pow(2) * torch.exp(-logvar))


def _log_mixture_weights(batch_size: int, n_data: int, estimator: str,
                         dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> torch.Tensor:
    """log w[i, j]: weight of q(z | n_j) in the estimate of q(z_i) from one minibatch (rows sum to 1).

    "mss": z_i was drawn from q(z | n_i) and the other M − 1 cells of the batch are a uniform
    sample, without replacement, of the other N − 1 cells. Then
        q(z_i) = q(z_i | n_i) / N + (1 / N) Σ_{n ≠ n_i} q(z_i | n)
    is estimated without bias by weight 1/N on the own cell and (N − 1) / (N (M − 1)) on each
    other cell. With M = N the estimate is exact.
    "mws": the batch taken as the dataset, weight 1/M throughout. Chen et al. write 1/(NM);
    that only shifts log q(z) by −log N (TC by (D − 1)·log N), leaves gradients unchanged, and
    would put MWS and MSS on different scales and the MI estimate above its bound log N.
    """
    if estimator not in TC_ESTIMATORS:
        raise ValueError(f"estimator must be one of {TC_ESTIMATORS}, got {estimator!r}")
    if batch_size < 2:
        raise ValueError(f"need at least 2 cells in the batch, got {batch_size}")
    if estimator == "mws":
        return torch.full((batch_size, batch_size), -math.log(batch_size), dtype=dtype, device=device)
    if n_data < batch_size:
        raise ValueError(f"n_data ({n_data}) must be at least the batch size ({batch_size})")
    off = math.log(n_data - 1) - math.log(n_data) - math.log(batch_size - 1)
    log_w = torch.full((batch_size, batch_size), off, dtype=dtype, device=device)
    log_w.fill_diagonal_(-math.log(n_data))
    return log_w


def _aggregate_log_densities(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, n_data: int,
                             estimator: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per cell: log q(z_i | n_i), the estimate of log q(z_i) and of log q_d(z_id) (cells × latent).

    q(z) = (1/N) Σ_n q(z | n) is the aggregate posterior, q_d its marginal in dimension d; both
    are estimated from the batch's posteriors with the weights of `_log_mixture_weights`. Each
    marginal is a mixture with the same weights as the joint, so the weights enter each once.
    """
    batch_size = z.shape[-2]
    log_w = _log_mixture_weights(batch_size, n_data, estimator, dtype=z.dtype, device=z.device)
    # log q(z_id | n_j), (models ×) cells i × cells j × latent d
    pairwise = _log_normal(z[..., :, None, :], mu[..., None, :, :], logvar[..., None, :, :])
    log_qz_given_x = pairwise.diagonal(dim1=-3, dim2=-2).sum(-2)
    log_qz = torch.logsumexp(log_w + pairwise.sum(-1), dim=-1)
    log_qz_marginals = torch.logsumexp(log_w[:, :, None] + pairwise, dim=-2)
    return log_qz_given_x, log_qz, log_qz_marginals


def kl_decomposition(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, n_data: int,
                     estimator: str = "mss") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Chen et al. (2018)'s split of the KL term into (index-code MI, total correlation, dimension-wise KL).

    z: one posterior sample per cell (cells × latent, or models × cells × latent for a stack,
    giving one value per model) with posterior mean `mu` and log-variance
    `logvar`; the batch is drawn from a dataset of `n_data` cells; prior N(0, I). Each term is a
    mean over the batch, in nats. For every cell the three terms telescope to
    log q(z_i | n_i) − log p(z_i), so their sum is exactly the single-sample Monte Carlo
    estimate of the mean KL(q(z | x) ‖ p(z)), whatever the estimator of q(z).
    """
    log_qz_given_x, log_qz, log_qz_marginals = _aggregate_log_densities(z, mu, logvar, n_data, estimator)
    log_prod_marginals = log_qz_marginals.sum(-1)
    log_pz = _log_normal(z, torch.zeros_like(z), torch.zeros_like(z)).sum(-1)
    mutual_info = (log_qz_given_x - log_qz).mean(-1)
    total_corr = (log_qz - log_prod_marginals).mean(-1)
    dimwise_kl = (log_prod_marginals - log_pz).mean(-1)
    return mutual_info, total_corr, dimwise_kl


def total_correlation(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, n_data: int,
                      estimator: str = "mss") -> torch.Tensor:
    """Total correlation KL(q(z) ‖ Π_d q_d(z_d)) of the aggregate posterior, in nats, from one minibatch.

    Arguments as in `kl_decomposition`; "mss" (minibatch-stratified) is unbiased for q(z) itself,
    "mws" (minibatch-weighted) over-weights each cell's own posterior when the batch is much
    smaller than the dataset. Both are biased for the log, and the estimate can dip below zero.
    """
    _, log_qz, log_qz_marginals = _aggregate_log_densities(z, mu, logvar, n_data, estimator)
    return (log_qz - log_qz_marginals.sum(-1)).mean(-1)
