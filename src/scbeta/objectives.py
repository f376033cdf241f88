"""Training objectives, one small class each, chosen by name.

Every objective is called the same way, `objective(out, progress) -> dict`, where `out` is the
model's `VAEOutput` for one minibatch and `progress` the share of training done (0 → 1, a
float or a 0-d tensor). The returned dict holds `loss` (the value to minimise, mean over cells)
and any named terms to log. An objective with state of its own (a discriminator) keeps it as
submodules and updates it in `update`, which the loop calls after each optimiser step.
Adding an objective means adding a class here and its name to `OBJECTIVES`; the training
loop does not change.

One objective serves one model or a stack of K models of the same objective. Its numeric
options (`per_model`: β, C_max, γ, ...) are then tensors of K values, `out`'s tensors have a
leading model dimension (cells second to last), and every returned term holds one value per
model. Built from plain numbers it is an ordinary single-model objective whose terms are
scalars. `stack` makes the group's objective from K single ones, `unstack` gives model k's back.
"""
from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from scbeta.module import StackedLinear, VAEOutput, cpu_has_native_bfloat16, fused_adam, per_model_draws
from scbeta.tc import TC_ESTIMATORS, kl_decomposition

PerModel = float | Sequence[float]


def _ramp(progress: float | torch.Tensor, share: torch.Tensor) -> torch.Tensor:
    """Linear ramp from 0 to 1 over the first `share` of training (1 throughout when share is 0)."""
    return torch.where(share > 0, (progress / share.clamp_min(1e-12)).clamp(max=1.0), torch.ones_like(share))


class Objective(nn.Module):
    """Base class: a loss on one minibatch's `VAEOutput`, for one model or a stack of them."""

    name: ClassVar[str]
    per_model: ClassVar[tuple[str, ...]] = ()  # numeric options; the models of a stack may differ in them

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self.options = options  # every other constructor argument: one value for the whole stack

    def _set_per_model(self, **values: PerModel) -> int | None:
        """Keep each numeric option as a float32 buffer; return the number of models, None for plain numbers."""
        n_models = None
        for key, value in values.items():
            tensor = torch.as_tensor(value, dtype=torch.float32)
            if tensor.dim() > 0:
                if n_models is not None and len(tensor) != n_models:
                    raise ValueError(f"{self.name}: {key} has {len(tensor)} values, other options {n_models}")
                n_models = len(tensor)
            # Not in state_dict: a saved model's options are in its params, and its file stays as it was.
            self.register_buffer(key, tensor, persistent=False)
        return n_models

    def _check(self, key: str, valid: torch.Tensor, expected: str) -> None:
        value = getattr(self, key)
        if not bool(valid.all()):
            shown = value.tolist()
            raise ValueError(f"{key} must be {expected}, got {shown if value.dim() else float(value)}")

    def forward(self, out: VAEOutput, progress: float | torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def update(self, out: VAEOutput, generators: Sequence[torch.Generator] | None = None
               ) -> dict[str, torch.Tensor]:
        """Auxiliary step after the model's optimiser step; returns terms to log. Nothing by default.

        `generators`: one per model of a stack, for the step's random draws (None: torch's global one).
        """
        return {}

    def resolved(self, device: torch.device) -> dict[str, str]:
        """Options whose value depends on the device (an "auto"), as they resolve on `device`, for the log."""
        return {}

    @classmethod
    def stack(cls, objectives: Sequence[Objective], names: Sequence[str] | None = None) -> Objective:
        """One objective for K models from K single ones of this class that differ only in their numeric
        `per_model` options. `names` (default "model k") name the models in the ValueError raised otherwise."""
        names = list(names) if names is not None else [f"model {k}" for k in range(len(objectives))]
        first = objectives[0]
        for other, name in zip(objectives[1:], names[1:]):
            if type(other) is not type(first):
                raise ValueError(f"one objective per group: {names[0]} is {first.name!r}, {name} is "
                                 f"{other.name!r}; train them in separate groups")
            for key in sorted(set(first.options) | set(other.options)):
                mine, theirs = first.options.get(key), other.options.get(key)
                if mine != theirs:
                    raise ValueError(f"{names[0]} and {name} differ in {key} ({mine!r} vs {theirs!r}); within a "
                                     f"group only {', '.join(cls.per_model)} may differ")
        values = {key: [float(getattr(o, key)) for o in objectives] for key in cls.per_model}
        stacked = cls(**first.options, **values)
        stacked._stack_state(objectives)
        return stacked

    def unstack(self, k: int) -> Objective:
        """The single objective of model k of this stack."""
        single = type(self)(**self.options, **{key: float(getattr(self, key)[k]) for key in self.per_model})
        self._unstack_state(k, single)
        return single.to(next(iter(self.buffers())).device)

    def _stack_state(self, objectives: Sequence[Objective]) -> None:
        """Take over the single objectives' learned state (none by default)."""

    def _unstack_state(self, k: int, single: Objective) -> None:
        """Give model k's learned state to `single` (none by default)."""


class BetaVAE(Objective):
    """β-VAE (Higgins et al. 2017): recon + w·β·KL, with w the KL warm-up weight.

    β = 1 is the ELBO that scVI maximises.
    """

    name = "beta"
    per_model = ("beta", "kl_warmup_share")

    def __init__(self, beta: PerModel = 1.0, kl_warmup_share: PerModel = 0.0) -> None:
        super().__init__()
        self._set_per_model(beta=beta, kl_warmup_share=kl_warmup_share)
        self._check("beta", self.beta > 0, "> 0")

    def forward(self, out: VAEOutput, progress: float | torch.Tensor) -> dict[str, torch.Tensor]:
        weight = _ramp(progress, self.kl_warmup_share) * self.beta
        recon, kl = out.recon.mean(-1), out.kl.mean(-1)
        return {"loss": recon + weight * kl, "recon": recon, "kl": kl}


class CapacityVAE(Objective):
    """Capacity annealing (Burgess et al. 2018): recon + w·β·|KL − C| per cell.

    C rises linearly from 0 to `c_max` (nats) over the first `capacity_share` of training and
    then holds; w is the KL warm-up weight. With c_max = 0 this is the β-VAE.
    """

    name = "capacity"
    per_model = ("beta", "c_max", "capacity_share", "kl_warmup_share")

    def __init__(self, beta: PerModel = 1.0, c_max: PerModel = 0.0, capacity_share: PerModel = 0.8,
                 kl_warmup_share: PerModel = 0.0) -> None:
        super().__init__()
        self._set_per_model(beta=beta, c_max=c_max, capacity_share=capacity_share, kl_warmup_share=kl_warmup_share)
        self._check("beta", self.beta > 0, "> 0")
        self._check("c_max", self.c_max >= 0, ">= 0")

    def capacity(self, progress: float | torch.Tensor) -> torch.Tensor:
        """C at this point of training, in nats (one per model)."""
        return self.c_max * _ramp(progress, self.capacity_share)

    def forward(self, out: VAEOutput, progress: float | torch.Tensor) -> dict[str, torch.Tensor]:
        c = self.capacity(progress)
        weight = _ramp(progress, self.kl_warmup_share) * self.beta
        recon = out.recon.mean(-1)
        loss = recon + weight * (out.kl - c.unsqueeze(-1)).abs().mean(-1)
        return {"loss": loss, "recon": recon, "kl": out.kl.mean(-1), "C": c}


class BetaTCVAE(Objective):
    """β-TCVAE (Chen et al. 2018): recon + w·(α·MI + β·TC + γ·dimension-wise KL).

    MI is the index-code mutual information, TC the total correlation of the aggregate
    posterior, both estimated on each minibatch (`kl_decomposition`); w is the KL warm-up
    weight. Defaults are the paper's (α = γ = 1, β = 6); with α = β = γ = 1 the regulariser is
    a one-sample Monte Carlo estimate of the KL term, so the loss is the negative ELBO in
    expectation. `n_data`, the number of cells in the dataset, is required by the MSS estimator.
    """

    name = "tcvae"
    per_model = ("beta", "alpha", "gamma", "kl_warmup_share")

    def __init__(self, beta: PerModel = 6.0, alpha: PerModel = 1.0, gamma: PerModel = 1.0,
                 tc_estimator: str = "mss", n_data: int | None = None, kl_warmup_share: PerModel = 0.0) -> None:
        super().__init__(tc_estimator=tc_estimator, n_data=n_data)
        self._set_per_model(beta=beta, alpha=alpha, gamma=gamma, kl_warmup_share=kl_warmup_share)
        for label in ("alpha", "beta", "gamma"):
            self._check(label, getattr(self, label) >= 0, ">= 0")
        if tc_estimator not in TC_ESTIMATORS:
            raise ValueError(f"tc_estimator must be one of {TC_ESTIMATORS}, got {tc_estimator!r}")
        if n_data is None or n_data < 2:
            raise ValueError(f"tcvae needs n_data, the number of cells in the dataset (>= 2), got {n_data}")
        self.tc_estimator = tc_estimator
        self.n_data = n_data

    def forward(self, out: VAEOutput, progress: float | torch.Tensor) -> dict[str, torch.Tensor]:
        mi, tc, dimwise_kl = kl_decomposition(out.z, out.qz_mu, out.qz_logvar, self.n_data, self.tc_estimator)
        weight = _ramp(progress, self.kl_warmup_share)
        recon = out.recon.mean(-1)
        loss = recon + weight * (self.alpha * mi + self.beta * tc + self.gamma * dimwise_kl)
        return {"loss": loss, "recon": recon, "kl": out.kl.mean(-1), "mi": mi, "tc": tc, "dimwise_kl": dimwise_kl}


DISCRIMINATOR_PRECISIONS = ("auto", "float32", "bfloat16")


def discriminator_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The dtype of FactorVAE's discriminator products for `precision` ("auto", "float32", "bfloat16") on `device`."""
    if precision == "auto":
        # On a GPU the discriminator is a small share of a step (kernel launches dominate): float32 there.
        precision = "bfloat16" if device.type == "cpu" and cpu_has_native_bfloat16() else "float32"
    return torch.bfloat16 if precision == "bfloat16" else torch.float32


def _permute_dims(z: torch.Tensor, generators: Sequence[torch.Generator] | None = None) -> torch.Tensor:
    """Shuffle each column of z independently across cells: samples of Π_d q_d(z_d) from samples of q(z).

    z: cells × latent, or models × cells × latent with one generator per model.
    """
    if generators is None:
        keys = torch.rand(z.shape, device=z.device)
    else:
        keys = per_model_draws(z.shape[1:], generators, "uniform", z.device)
    return z.gather(-2, keys.argsort(dim=-2))


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
    For a stack of K models, D is K discriminators in one (`StackedLinear` layers), one per model.

    `discriminator_precision`: D's matrix products in "bfloat16" or "float32"; "auto": bfloat16 on
    a CPU that multiplies it natively, float32 elsewhere (GPUs included). D's weights, its Adam
    state and all else stay float32. D is most of a FactorVAE step (8 GFLOP at batch 128, against
    the VAE's 0.5), and bfloat16 halves its time on such CPUs (benchmarks/README.md).
    """

    name = "factorvae"
    per_model = ("gamma", "kl_warmup_share")

    def __init__(self, gamma: PerModel = 10.0, n_latent: int | None = None, discriminator_lr: float = 1e-4,
                 discriminator_width: int = 1000, discriminator_precision: str = "auto",
                 kl_warmup_share: PerModel = 0.0) -> None:
        super().__init__(n_latent=n_latent, discriminator_lr=discriminator_lr,
                         discriminator_width=discriminator_width, discriminator_precision=discriminator_precision)
        n_models = self._set_per_model(gamma=gamma, kl_warmup_share=kl_warmup_share)
        self._check("gamma", self.gamma >= 0, ">= 0")
        if discriminator_precision not in DISCRIMINATOR_PRECISIONS:
            raise ValueError(f"discriminator_precision must be one of {', '.join(DISCRIMINATOR_PRECISIONS)}, "
                             f"got {discriminator_precision!r}")
        if n_latent is None or n_latent < 2:
            raise ValueError(f"factorvae needs n_latent, the latent dimension (>= 2), got {n_latent}")
        layers: list[nn.Module] = []
        n_in = n_latent
        for n_out in [discriminator_width] * 5 + [2]:
            layers.append(nn.Linear(n_in, n_out) if n_models is None else StackedLinear(n_models, n_in, n_out))
            layers.append(nn.LeakyReLU(0.2))
            n_in = n_out
        self.discriminator = nn.Sequential(*layers[:-1])
        self.optimizer = fused_adam(self.discriminator.parameters(), lr=discriminator_lr, betas=(0.5, 0.9))

    def resolved(self, device: torch.device) -> dict[str, str]:
        dtype = discriminator_dtype(self.options["discriminator_precision"], device)
        return {"discriminator_precision": str(dtype).removeprefix("torch.")}

    def _discriminate(self, z: torch.Tensor, parameters: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        """D's two logits (float32) per cell of z, with D's own parameters or `parameters`."""
        bfloat16 = discriminator_dtype(self.options["discriminator_precision"], z.device) == torch.bfloat16
        # No cast cache: a CUDA graph replays the casts, and D's weights change every step anyway.
        with torch.autocast(z.device.type, dtype=torch.bfloat16, enabled=bfloat16, cache_enabled=False):
            logits = self.discriminator(z) if parameters is None else torch.func.functional_call(
                self.discriminator, dict(parameters), (z,))
        return logits.float()

    def _logit_ratio(self, z: torch.Tensor) -> torch.Tensor:
        """log D(z) / (1 − D(z)) per cell, with D's parameters held fixed so the VAE step leaves them alone."""
        frozen = {key: value.detach() for key, value in self.discriminator.named_parameters()}
        logits = self._discriminate(z, frozen)
        return logits[..., 0] - logits[..., 1]

    def forward(self, out: VAEOutput, progress: float | torch.Tensor) -> dict[str, torch.Tensor]:
        tc = self._logit_ratio(out.z).mean(-1)
        kl = out.kl.mean(-1)
        recon = out.recon.mean(-1)
        weight = _ramp(progress, self.kl_warmup_share)
        return {"loss": recon + weight * (kl + self.gamma * tc), "recon": recon, "kl": kl, "tc": tc}

    def update(self, out: VAEOutput, generators: Sequence[torch.Generator] | None = None
               ) -> dict[str, torch.Tensor]:
        """One Adam step of D on the batch's z (class 0) against its dimension-wise permutation (class 1).

        Returns D's cross-entropy (nats) and accuracy, per model. A model whose z is not finite
        gives its D a zero gradient and reports NaN, so that a diverging VAE does not also ruin its
        D; the loop reports the non-finite loss. No value is read back to the host.
        """
        z = out.z.detach()
        finite = torch.isfinite(z).flatten(-2).all(-1)
        z = torch.where(finite[..., None, None], z, 0.0)
        self._move_optimizer_state()
        n_cells = z.shape[-2]
        with torch.enable_grad():
            logits = self._discriminate(torch.cat([z, _permute_dims(z, generators)], dim=-2))
            log_p = logits.log_softmax(-1)
            # class 0 for the first n_cells rows (z), class 1 for the permuted rest
            cross_entropy = -torch.cat([log_p[..., :n_cells, 0], log_p[..., n_cells:, 1]], dim=-1).mean(-1)
            self.optimizer.zero_grad(set_to_none=True)
            (cross_entropy * finite).sum().backward()
            self.optimizer.step()
        predicted = logits.detach().argmax(-1)
        accuracy = torch.cat([predicted[..., :n_cells] == 0, predicted[..., n_cells:] == 1], dim=-1).float().mean(-1)
        return {"discriminator_loss": torch.where(finite, cross_entropy.detach(), math.nan),
                "discriminator_accuracy": torch.where(finite, accuracy, math.nan)}

    def _move_optimizer_state(self) -> None:
        # Adam's moments follow the parameters' device; they do not move with `.to()` when that is
        # called after `load_state_dict`. The step count stays on the CPU where plain Adam expects it;
        # fused and capturable Adam keep it with the parameters. A step on CUDA is captured in a
        # CUDA graph, which needs capturable mode.
        on_cuda = next(self.discriminator.parameters()).is_cuda
        for group in self.optimizer.param_groups:
            group["capturable"] = on_cuda
            step_moves = bool(group.get("fused")) or on_cuda
            for param in group["params"]:
                state = self.optimizer.state.get(param, {})
                for key, value in state.items():
                    if torch.is_tensor(value) and value.device != param.device and (key != "step" or step_moves):
                        state[key] = value.to(param.device)

    def _stack_state(self, objectives: Sequence[Objective]) -> None:
        for k, layer in enumerate(self.discriminator):
            if isinstance(layer, StackedLinear):
                layer.copy_from([o.discriminator[k] for o in objectives])

    def _unstack_state(self, k: int, single: Objective) -> None:
        with torch.no_grad():
            for layer, target in zip(self.discriminator, single.discriminator):
                if isinstance(layer, StackedLinear):
                    layer.unstack_into(k, target)
        saved = self.optimizer.state_dict()
        plain = list(single.discriminator.parameters())

        def take(value: Any, param: torch.Tensor) -> Any:
            if not torch.is_tensor(value) or value.dim() == 0:
                return copy.deepcopy(value)
            mine = value[k]
            return (mine.mT if param.dim() == 2 else mine.reshape(param.shape)).clone(
                memory_format=torch.contiguous_format)

        state = {i: {key: take(value, plain[i]) for key, value in entry.items()}
                 for i, entry in saved["state"].items()}
        single.optimizer.load_state_dict({"state": state, "param_groups": single.optimizer.state_dict()["param_groups"]})

    def get_extra_state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        # Copied, so that two objectives loaded from one state dict do not share Adam's moments.
        self.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))


OBJECTIVES: dict[str, type[Objective]] = {cls.name: cls for cls in (BetaVAE, CapacityVAE, BetaTCVAE, FactorVAE)}


def objective_keywords(name: str) -> list[str]:
    """The keywords the objective `name` takes."""
    if name not in OBJECTIVES:
        raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}, got {name!r}")
    return list(inspect.signature(OBJECTIVES[name]).parameters)


def check_options(name: str, params: Mapping[str, Any], where: str = "") -> None:
    """Raise a one-line ValueError, after `where`, for any keyword of `params` the objective `name` does not take."""
    accepted = objective_keywords(name)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"{where}objective {name!r} takes no {', '.join(map(repr, unknown))}; "
                         f"it takes {', '.join(accepted)}")


def make_objective(name: str, **params: Any) -> Objective:
    """Build the objective `name` from `params`; a keyword it does not take is an error (`check_options`)."""
    check_options(name, params)
    return OBJECTIVES[name](**params)
