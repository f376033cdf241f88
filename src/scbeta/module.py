"""The scVI-style variational autoencoder (Lopez et al. 2018) and its count likelihoods.

Only the math lives here: tensors in, tensors out. Objectives are in `objectives`,
the training loop in `train`, the user API in `model`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

LIKELIHOODS = ("nb", "zinb")
_EPS = 1e-8


@dataclass
class CountBatch:
    """A minibatch of cells: dense counts plus the coordinates of its non-zero entries.

    x: counts, cells × genes. rows, cols, values: the non-zero entries of x (rows index
    the batch). log_library: log of each cell's total count. log_factorial: per cell,
    sum over genes of lgamma(x + 1), a constant of the likelihood.
    """

    x: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor
    values: torch.Tensor
    log_library: torch.Tensor
    log_factorial: torch.Tensor


@dataclass
class VAEOutput:
    """What one forward pass gives the objectives. Per-cell terms are in nats."""

    z: torch.Tensor  # posterior sample, cells × latent
    qz_mu: torch.Tensor  # posterior mean
    qz_logvar: torch.Tensor  # posterior log-variance
    recon: torch.Tensor  # −log p(x | z) per cell
    kl: torch.Tensor  # KL(q(z | x) ‖ N(0, I)) per cell


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) ‖ N(0, I)) per row, in nats."""
    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(-1)


def nb_log_prob(batch: CountBatch, log_scale: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Negative binomial log-likelihood per cell, mean = library × exp(log_scale), inverse dispersion theta.

    Zero counts contribute theta·(log theta − log(theta + mu)) only, so lgamma is evaluated at the
    non-zero entries alone; the dense part is one log per entry and a matrix–vector product.
    """
    mu = torch.exp(log_scale + batch.log_library[:, None])
    log_theta_mu = torch.log(theta + mu + _EPS)
    log_theta = torch.log(theta + _EPS)
    dense = (theta * log_theta).sum() - log_theta_mu @ theta
    r, c, x = batch.rows, batch.cols, batch.values
    th = theta[c]
    sparse = (x * (log_scale[r, c] + batch.log_library[r] - log_theta_mu[r, c])
              + torch.lgamma(x + th) - torch.lgamma(th))
    return dense.index_add(0, r, sparse) - batch.log_factorial


def zinb_log_prob(batch: CountBatch, log_scale: torch.Tensor, theta: torch.Tensor,
                  zi_logits: torch.Tensor) -> torch.Tensor:
    """Zero-inflated NB log-likelihood per cell, in scVI's parametrisation (dropout logits `zi_logits`).

    Sums the zero-case term over all entries and corrects it at the non-zero entries.
    """
    mu = torch.exp(log_scale + batch.log_library[:, None])
    log_theta_mu = torch.log(theta + mu + _EPS)
    softplus_pi = F.softplus(-zi_logits)
    pi_theta_log = -zi_logits + theta * (torch.log(theta + _EPS) - log_theta_mu)
    case_zero = F.softplus(pi_theta_log) - softplus_pi
    r, c, x = batch.rows, batch.cols, batch.values
    th = theta[c]
    case_nonzero = (-softplus_pi[r, c] + pi_theta_log[r, c]
                    + x * (log_scale[r, c] + batch.log_library[r] - log_theta_mu[r, c])
                    + torch.lgamma(x + th) - torch.lgamma(th))
    return case_zero.sum(1).index_add(0, r, case_nonzero - case_zero[r, c]) - batch.log_factorial


def _hidden_block(n_in: int, n_out: int, dropout: float) -> list[nn.Module]:
    # scVI's FCLayers: Linear → BatchNorm (momentum 0.01, eps 1e-3) → ReLU → Dropout.
    layers: list[nn.Module] = [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out, momentum=0.01, eps=0.001), nn.ReLU()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return layers


class VAE(nn.Module):
    """Encoder on log1p counts → Normal posterior; decoder → gene proportions × observed library size.

    Per-gene inverse dispersion; NB or ZINB likelihood; N(0, I) prior.
    """

    def __init__(self, n_genes: int, n_latent: int = 10, n_hidden: int = 128, n_layers: int = 1,
                 dropout: float = 0.1, likelihood: str = "zinb") -> None:
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.likelihood = likelihood
        self.n_latent = n_latent
        encoder: list[nn.Module] = []
        decoder: list[nn.Module] = []
        for i in range(n_layers):
            encoder += _hidden_block(n_genes if i == 0 else n_hidden, n_hidden, dropout)
            decoder += _hidden_block(n_latent if i == 0 else n_hidden, n_hidden, 0.0)
        self.encoder = nn.Sequential(*encoder)
        self.z_mean = nn.Linear(n_hidden, n_latent)
        self.z_var = nn.Linear(n_hidden, n_latent)
        self.decoder = nn.Sequential(*decoder)
        self.scale_logits = nn.Linear(n_hidden, n_genes)
        self.zi_logits = nn.Linear(n_hidden, n_genes) if likelihood == "zinb" else None
        self.log_theta = nn.Parameter(torch.randn(n_genes))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance of z for counts x (cells × genes)."""
        hidden = self.encoder(torch.log1p(x))
        # scVI: variance = exp(output) + 1e-4, which keeps the posterior away from a point mass.
        logvar = torch.log(torch.exp(self.z_var(hidden)) + 1e-4)
        return self.z_mean(hidden), logvar

    def log_likelihood(self, batch: CountBatch, z: torch.Tensor) -> torch.Tensor:
        """log p(x | z) per cell, in nats."""
        hidden = self.decoder(z)
        log_scale = F.log_softmax(self.scale_logits(hidden), dim=-1)
        theta = self.log_theta.exp()
        if self.zi_logits is None:
            return nb_log_prob(batch, log_scale, theta)
        return zinb_log_prob(batch, log_scale, theta, self.zi_logits(hidden))

    def forward(self, batch: CountBatch) -> VAEOutput:
        mu, logvar = self.encode(batch.x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return VAEOutput(z=z, qz_mu=mu, qz_logvar=logvar, recon=-self.log_likelihood(batch, z),
                         kl=kl_standard_normal(mu, logvar))
