"""Training objectives, one small class each, chosen by name.

Every objective is called the same way, `objective(out, progress) -> dict`, where `out` is the
model's `VAEOutput` for one minibatch and `progress` the share of training done (0 → 1).
The returned dict holds `loss` (the scalar to minimise, mean over cells) and any named terms
to log. An objective with state of its own (a discriminator) keeps it as submodules and
updates it in `update`, which the loop calls after each optimiser step. Adding an objective
means adding a class here and its name to `OBJECTIVES`; the training loop does not change.
"""
from __future__ import annotations

import copy
import inspect
import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from scbeta.module import VAEOutput


def _ramp(progress: float, share: float) -> float:
    """Linear ramp from 0 to 1 over the first `share` of training (1 throughout when share is 0)."""
    return 1.0 if share <= 0 else min(1.0, progress / share)


class Objective(nn.Module):
    """Base class: a loss on one minibatch's `VAEOutput`."""

    name: ClassVar[str]

    def forward(self, out: VAEOutput, progress: float) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def update(self, out: VAEOutput) -> dict[str, float]:
        """Auxiliary step after the model's optimiser step; returns terms to log. Nothing by default."""
        return {}


class BetaVAE(Objective):
    """β-VAE (Higgins et al. 2017): recon + w·β·KL, with w the KL warm-up weight.

    β = 1 is the ELBO that scVI maximises.
    """

    name = "beta"

    def __init__(self, beta: float = 1.0, kl_warmup_share: float = 0.0) -> None:
        super().__init__()
        if beta <= 0:
            raise ValueError(f"beta must be > 0, got {beta}")
        self.beta = beta
        self.kl_warmup_share = kl_warmup_share

    def forward(self, out: VAEOutput, progress: float) -> dict[str, torch.Tensor]:
        weight = _ramp(progress, self.kl_warmup_share) * self.beta
        recon, kl = out.recon.mean(), out.kl.mean()
        return {"loss": recon + weight * kl, "recon": recon, "kl": kl}


class CapacityVAE(Objective):
    """Capacity annealing (Burgess et al. 2018): recon + w·β·|KL − C| per cell.

    C rises linearly from 0 to `c_max` (nats) over the first `capacity_share` of training and
    then holds; w is the KL warm-up weight. With c_max = 0 this is the β-VAE.
    """

    name = "capacity"

    def __init__(self, beta: float = 1.0, c_max: float = 0.0, capacity_share: float = 0.8,
                 kl_warmup_share: float = 0.0) -> None:
        super().__init__()
        if beta <= 0:
            raise ValueError(f"beta must be > 0, got {beta}")
        if c_max < 0:
            raise ValueError(f"c_max must be >= 0, got {c_max}")
        self.beta = beta
        self.c_max = c_max
        self.capacity_share = capacity_share
        self.kl_warmup_share = kl_warmup_share

    def capacity(self, progress: float) -> float:
        """C at this point of training, in nats."""
        return self.c_max * _ramp(progress, self.capacity_share)

    def forward(self, out: VAEOutput, progress: float) -> dict[str, torch.Tensor]:
        c = self.capacity(progress)
        weight = _ramp(progress, self.kl_warmup_share) * self.beta
        recon = out.recon.mean()
        loss = recon + weight * (out.kl - c).abs().mean()
        return {"loss": loss, "recon": recon, "kl": out.kl.mean(), "C": torch.tensor(c)}


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
    batch_size = z.shape[0]
    log_w = _log_mixture_weights(batch_size, n_data, estimator, dtype=z.dtype, device=z.device)
    # log q(z_id | n_j), cells i × cells j × latent d
    pairwise = _log_normal(z[:, None, :], mu[None, :, :], logvar[None, :, :])
    log_qz_given_x = pairwise.diagonal(dim1=0, dim2=1).sum(0)
    log_qz = torch.logsumexp(log_w + pairwise.sum(-1), dim=1)
    log_qz_marginals = torch.logsumexp(log_w[:, :, None] + pairwise, dim=1)
    return log_qz_given_x, log_qz, log_qz_marginals


def kl_decomposition(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, n_data: int,
                     estimator: str = "mss") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Chen et al. (2018)'s split of the KL term into (index-code MI, total correlation, dimension-wise KL).

    z: one posterior sample per cell (cells × latent) with posterior mean `mu` and log-variance
    `logvar`; the batch is drawn from a dataset of `n_data` cells; prior N(0, I). Each term is a
    mean over the batch, in nats. For every cell the three terms telescope to
    log q(z_i | n_i) − log p(z_i), so their sum is exactly the single-sample Monte Carlo
    estimate of the mean KL(q(z | x) ‖ p(z)), whatever the estimator of q(z).
    """
    log_qz_given_x, log_qz, log_qz_marginals = _aggregate_log_densities(z, mu, logvar, n_data, estimator)
    log_prod_marginals = log_qz_marginals.sum(-1)
    log_pz = _log_normal(z, torch.zeros_like(z), torch.zeros_like(z)).sum(-1)
    mutual_info = (log_qz_given_x - log_qz).mean()
    total_corr = (log_qz - log_prod_marginals).mean()
    dimwise_kl = (log_prod_marginals - log_pz).mean()
    return mutual_info, total_corr, dimwise_kl


def total_correlation(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, n_data: int,
                      estimator: str = "mss") -> torch.Tensor:
    """Total correlation KL(q(z) ‖ Π_d q_d(z_d)) of the aggregate posterior, in nats, from one minibatch.

    Arguments as in `kl_decomposition`; "mss" (minibatch-stratified) is unbiased for q(z) itself,
    "mws" (minibatch-weighted) over-weights each cell's own posterior when the batch is much
    smaller than the dataset. Both are biased for the log, and the estimate can dip below zero.
    """
    _, log_qz, log_qz_marginals = _aggregate_log_densities(z, mu, logvar, n_data, estimator)
    return (log_qz - log_qz_marginals.sum(-1)).mean()


class BetaTCVAE(Objective):
    """β-TCVAE (Chen et al. 2018): recon + w·(α·MI + β·TC + γ·dimension-wise KL).

    MI is the index-code mutual information, TC the total correlation of the aggregate
    posterior, both estimated on each minibatch (`kl_decomposition`); w is the KL warm-up
    weight. Defaults are the paper's (α = γ = 1, β = 6); with α = β = γ = 1 the regulariser is
    a one-sample Monte Carlo estimate of the KL term, so the loss is the negative ELBO in
    expectation. `n_data`, the number of cells in the dataset, is required by the MSS estimator.
    """

    name = "tcvae"

    def __init__(self, beta: float = 6.0, alpha: float = 1.0, gamma: float = 1.0, tc_estimator: str = "mss",
                 n_data: int | None = None, kl_warmup_share: float = 0.0) -> None:
        super().__init__()
        for label, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
            if value < 0:
                raise ValueError(f"{label} must be >= 0, got {value}")
        if tc_estimator not in TC_ESTIMATORS:
            raise ValueError(f"tc_estimator must be one of {TC_ESTIMATORS}, got {tc_estimator!r}")
        if n_data is None or n_data < 2:
            raise ValueError(f"tcvae needs n_data, the number of cells in the dataset (>= 2), got {n_data}")
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        self.tc_estimator = tc_estimator
        self.n_data = n_data
        self.kl_warmup_share = kl_warmup_share

    def forward(self, out: VAEOutput, progress: float) -> dict[str, torch.Tensor]:
        mi, tc, dimwise_kl = kl_decomposition(out.z, out.qz_mu, out.qz_logvar, self.n_data, self.tc_estimator)
        weight = _ramp(progress, self.kl_warmup_share)
        recon = out.recon.mean()
        loss = recon + weight * (self.alpha * mi + self.beta * tc + self.gamma * dimwise_kl)
        return {"loss": loss, "recon": recon, "kl": out.kl.mean(), "mi": mi, "tc": tc, "dimwise_kl": dimwise_kl}


def _permute_dims(z: torch.Tensor) -> torch.Tensor:
    """Shuffle each column of z independently across cells: samples of Π_d q_d(z_d) from samples of q(z)."""
    columns = [col[torch.randperm(z.shape[0], device=z.device)] for col in z.unbind(1)]
    return torch.stack(columns, dim=1)


class FactorVAE(Objective):
    """FactorVAE (Kim & Mnih 2018): recon + w·(KL + γ·TC), w the KL warm-up weight.

    TC ≈ mean over the batch of log D(z) / (1 − D(z)) = logit_true − logit_permuted, where
    the discriminator D tells samples of q(z) from samples of Π_d q_d(z_d). D is the paper's
    MLP (6 linear layers of 1,000 units, LeakyReLU 0.2, 2 logits) trained with its own Adam
    (lr 1e-4, betas (0.5, 0.9)) in `update`. The paper draws the permuted samples from a second
    minibatch; here both classes come from the same batch (its z, and z with each dimension
    shuffled across cells), which halves the encoder passes and keeps one batch per step.
    The paper uses γ from 6.4 to 40 depending on the dataset (40 on 2D Shapes, 6.4 on 3D Shapes).
    D's weights and its optimiser state are part of `state_dict`, so training resumes exactly.
    """

    name = "factorvae"

    def __init__(self, gamma: float = 10.0, n_latent: int | None = None, discriminator_lr: float = 1e-4,
                 discriminator_width: int = 1000, kl_warmup_share: float = 0.0) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        if n_latent is None or n_latent < 2:
            raise ValueError(f"factorvae needs n_latent, the latent dimension (>= 2), got {n_latent}")
        self.gamma = gamma
        self.kl_warmup_share = kl_warmup_share
        layers: list[nn.Module] = []
        n_in = n_latent
        for _ in range(5):
            layers += [nn.Linear(n_in, discriminator_width), nn.LeakyReLU(0.2)]
            n_in = discriminator_width
        layers.append(nn.Linear(n_in, 2))
        self.discriminator = nn.Sequential(*layers)
        self.optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=discriminator_lr, betas=(0.5, 0.9))

    def _logit_ratio(self, z: torch.Tensor) -> torch.Tensor:
        """log D(z) / (1 − D(z)) per cell, with D's parameters held fixed so the VAE step leaves them alone."""
        frozen = {key: value.detach() for key, value in self.discriminator.named_parameters()}
        logits = torch.func.functional_call(self.discriminator, frozen, (z,))
        return logits[:, 0] - logits[:, 1]

    def forward(self, out: VAEOutput, progress: float) -> dict[str, torch.Tensor]:
        tc = self._logit_ratio(out.z).mean()
        kl = out.kl.mean()
        recon = out.recon.mean()
        weight = _ramp(progress, self.kl_warmup_share)
        return {"loss": recon + weight * (kl + self.gamma * tc), "recon": recon, "kl": kl, "tc": tc}

    def update(self, out: VAEOutput) -> dict[str, float]:
        """One Adam step of D on the batch's z (class 0) against its dimension-wise permutation (class 1).

        Returns D's cross-entropy (nats) and accuracy. A batch with non-finite z is skipped so that
        a diverging VAE does not also ruin D; the loop reports the non-finite loss.
        """
        z = out.z.detach()
        if not torch.isfinite(z).all():
            return {"discriminator_loss": math.nan}
        self._move_optimizer_state()
        with torch.enable_grad():
            logits = self.discriminator(torch.cat([z, _permute_dims(z)]))
            labels = torch.cat([torch.zeros(len(z), dtype=torch.long, device=z.device),
                                torch.ones(len(z), dtype=torch.long, device=z.device)])
            loss = F.cross_entropy(logits, labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        accuracy = (logits.detach().argmax(1) == labels).float().mean()
        return {"discriminator_loss": float(loss.detach()), "discriminator_accuracy": float(accuracy)}

    def _move_optimizer_state(self) -> None:
        # Adam's moments follow the parameters' device; they do not move with `.to()` when that is
        # called after `load_state_dict`. The step count stays on the CPU, where Adam expects it.
        for param, state in self.optimizer.state.items():
            for key, value in state.items():
                if key != "step" and torch.is_tensor(value) and value.device != param.device:
                    state[key] = value.to(param.device)

    def get_extra_state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        # Copied, so that two objectives loaded from one state dict do not share Adam's moments.
        self.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))


OBJECTIVES: dict[str, type[Objective]] = {cls.name: cls for cls in (BetaVAE, CapacityVAE, BetaTCVAE, FactorVAE)}


def make_objective(name: str, **params: Any) -> Objective:
    """Build the objective `name` from those of `params` its constructor takes; the rest are ignored."""
    if name not in OBJECTIVES:
        raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}, got {name!r}")
    cls = OBJECTIVES[name]
    accepted = inspect.signature(cls).parameters
    return cls(**{key: value for key, value in params.items() if key in accepted})
