"""Training objectives, one small class each, chosen by name.

Every objective is called the same way, `objective(out, progress) -> dict`, where `out` is the
model's `VAEOutput` for one minibatch and `progress` the share of training done (0 → 1).
The returned dict holds `loss` (the scalar to minimise, mean over cells) and any named terms
to log. An objective with state of its own (a discriminator) keeps it as submodules and
updates it in `update`, which the loop calls after each optimiser step. Adding an objective
means adding a class here and its name to `OBJECTIVES`; the training loop does not change.
"""
from __future__ import annotations

import inspect
from typing import Any, ClassVar

import torch
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


OBJECTIVES: dict[str, type[Objective]] = {cls.name: cls for cls in (BetaVAE, CapacityVAE)}


def make_objective(name: str, **params: Any) -> Objective:
    """Build the objective `name` from those of `params` its constructor takes; the rest are ignored."""
    if name not in OBJECTIVES:
        raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}, got {name!r}")
    cls = OBJECTIVES[name]
    accepted = inspect.signature(cls).parameters
    return cls(**{key: value for key, value in params.items() if key in accepted})
