"""The scVI-style variational autoencoder (Lopez et al. 2018), its count likelihoods, and a stack of K of them.

Only the math lives here: tensors in, tensors out. Objectives are in `objectives`,
the training loop in `train`, the user API in `model`. `VAE` is one model, as it is initialised,
saved and used once trained (its posterior, its decoded gene proportions); `StackedVAE` holds K
models' parameters with a leading model dimension and trains them in one pass (`torch.baddbmm`
instead of K matrix products), each with its own batch statistics and its own random draws. A
single model trains as a stack of one.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

LIKELIHOODS = ("nb", "zinb")
_EPS = 1e-8


@dataclass
class CountBatch:
    """A minibatch of cells: dense counts plus the coordinates of its non-zero entries.

    x: counts, cells × genes, or models × cells × genes for a stack (each model its own cells).
    rows, cols, values: the non-zero entries of x; rows index the cells of all models in turn
    (model k's cell i is row k·cells + i), cols the genes. A row equal to the number of cells
    in x marks a padding entry (value 0) of a fixed-size batch. Without rows (None), the
    likelihood takes the non-zero entries from x itself, densely. log_library: log of each
    cell's total count. log_factorial: per cell, sum over genes of lgamma(x + 1), a constant
    of the likelihood.
    """

    x: torch.Tensor
    rows: torch.Tensor | None
    cols: torch.Tensor | None
    values: torch.Tensor | None
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
    kl_dims: torch.Tensor | None = None  # the KL per cell and latent dimension; sums to kl


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) ‖ N(0, 1)) of each latent dimension, in nats (same shape as mu)."""
    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar)


def _softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + e^x), to float32 precision, in passes that cost the same whatever x is.

    torch's softplus, logsigmoid and log1p are several times slower for x < 0, and exp is 20–50×
    slower where e^x underflows; ZINB evaluates them mostly at x < 0. So e^x is taken within
    [e^-80, e^80], where log(1 + e^x) is exact to float32; above, the excess is added back.
    """
    return x.clamp(-80.0, 80.0).exp_().add_(1.0).log_().add_((x - 80.0).clamp_min_(0.0))


class _DenseNB(torch.autograd.Function):
    """The dense terms of the NB or ZINB log-likelihood, summed per cell, with a hand-written backward.

    Per entry, with eta = log mu, q = theta·(log theta − log(theta + mu)) and p = q − zi_logits:
      NB:   q + x·(eta − log(theta + mu))
      ZINB: log σ(zi_logits) + x·(eta − log(theta + mu)) + (p if x > 0 else softplus(p))
    The zero/non-zero choice is a blend by the 0/1 `nonzero` mask, not an index. Autograd would
    keep a dozen cells × genes intermediates and make as many passes backwards; the closed-form
    gradients below need a few in-place passes, with u = theta / (theta + mu) and g = ∂/∂q
    (1 for NB and at non-zero entries, σ(p) at ZINB zeros):
      ∂/∂eta = u·x − (1 − u)·theta·g
      ∂/∂zi_logits = σ(−zi_logits) − g
      ∂/∂log theta = g·q − ∂/∂eta, summed over cells
    Shapes: x, log_scale, zi_logits (..., cells, genes); log_library (..., cells); theta (..., genes),
    where `...` is empty for one model or the models of a stack, each with its own theta.
    """

    @staticmethod
    def forward(ctx, log_scale, log_library, theta, zi_logits, x, nonzero):  # noqa: ANN001, ANN205
        theta = theta.unsqueeze(-2) + _EPS  # one row, broadcast over the cells
        log_theta = torch.log(theta)
        log_mu = log_scale + log_library.unsqueeze(-1)
        log_theta_mu = torch.exp(log_mu).add_(theta).log_()
        log_mu_share = log_mu.sub_(log_theta_mu)  # log(mu / (theta + mu)), in place
        out = torch.linalg.vecdot(x, log_mu_share)  # 0 where x is 0
        if zi_logits is None:
            out += (theta * log_theta).sum(-1) - (log_theta_mu @ theta.mT).squeeze(-1)
            ctx.save_for_backward(x, theta, log_theta, log_theta_mu, log_mu_share)
        else:
            p = torch.addcmul(theta * log_theta, log_theta_mu, -theta).sub_(zi_logits)
            out += torch.lerp(_softplus(p), p, nonzero).sum(-1) - _softplus(-zi_logits).sum(-1)
            ctx.save_for_backward(x, theta, log_theta, log_theta_mu, log_mu_share, p, zi_logits, nonzero)
        return out

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        x, theta, log_theta, log_theta_mu, log_mu_share, *zinb = ctx.saved_tensors
        w = grad.unsqueeze(-1)
        grad_row = grad.unsqueeze(-2)  # sums over cells as (1 × cells) @ (cells × genes) products
        # u = theta / (theta + mu) and 1 − u = mu / (theta + mu), each from its own logarithm: taking one
        # as 1 − the other cancels catastrophically for the large theta of Poisson-like genes.
        u = torch.sub(log_theta, log_theta_mu).exp_()
        one_minus_u = log_mu_share.exp()
        if not zinb:
            grad_eta = u.mul_(x).sub_(one_minus_u.mul_(theta))
            # Σ_cells w·q without forming q: q = theta·(log theta − log(theta + mu)).
            grad_log_theta = (theta * (log_theta * grad.sum(-1)[..., None, None] - grad_row @ log_theta_mu)
                              - grad_row @ grad_eta)
            return grad_eta.mul_(w), None, (grad_log_theta / theta).squeeze(-2), None, None, None
        p, zi_logits, nonzero = zinb
        g = torch.sigmoid(p)
        torch.maximum(g, nonzero, out=g)  # 1 at non-zero entries
        grad_zi = torch.sigmoid(zi_logits).add_(g).sub_(1).mul_(-w)
        grad_eta = u.mul_(x).sub_(one_minus_u.mul_(g).mul_(theta))
        g.mul_(p + zi_logits).sub_(grad_eta)  # g·q − ∂/∂eta
        return grad_eta.mul_(w), None, ((grad_row @ g) / theta).squeeze(-2), grad_zi, None, None


def _digamma(y: torch.Tensor) -> torch.Tensor:
    """ψ(y) for y > 0: five steps of ψ(y) = ψ(y + 1) − 1/y, then the asymptotic series at y + 5.

    As accurate as torch.digamma in float32 (the series' truncation error is below 1e-8 at y + 5 >= 5),
    and three times faster on counts: torch.digamma steps one element at a time up to 10, which is
    slow for the small counts that dominate single-cell data; this is a fixed number of vectorised passes.
    """
    shift = y.reciprocal()
    for j in range(1, 5):
        shift += (y + j).reciprocal_()
    t = y + 5
    r = t.reciprocal()
    r2 = r * r
    series = r2 * (1 / 12 - r2 * (1 / 120 - r2 / 252))
    return t.log_().sub_(r.mul_(0.5)).sub_(series).sub_(shift)


class _SparseLgamma(torch.autograd.Function):
    """Σ_g lgamma(x + theta) − lgamma(theta) − lgamma(x + 1) per cell, as a function of theta.

    Zero where x is 0, so it is evaluated at the non-zero entries only; the backward uses `_digamma`.
    Padding entries (row = number of cells) go to a spare row that is dropped, forward and backward.
    """

    @staticmethod
    def forward(ctx, theta, batch):  # noqa: ANN001, ANN205
        n_genes = theta.shape[-1]
        theta_flat = theta.reshape(-1)
        n_models = theta_flat.numel() // n_genes
        if n_models == 1:
            index = batch.cols
        else:  # each entry reads the theta of its cell's model
            model = torch.div(batch.rows, batch.x.shape[-2], rounding_mode="floor").clamp_(max=n_models - 1)
            index = model.mul_(n_genes).add_(batch.cols)
        y = batch.values + theta_flat.index_select(0, index)
        # The difference per entry, not of sums: lgamma(theta) is large where theta is.
        per_entry = torch.lgamma(y).sub_(torch.lgamma(theta_flat).index_select(0, index))
        ctx.save_for_backward(theta, y, batch.rows, index)
        n_rows = batch.log_factorial.numel()
        per_cell = batch.log_factorial.new_zeros(n_rows + 1).index_add_(0, batch.rows, per_entry)
        return per_cell[:n_rows].view_as(batch.log_factorial) - batch.log_factorial

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        theta, y, rows, index = ctx.saved_tensors
        grad_rows = torch.cat([grad.reshape(-1), grad.new_zeros(1)])  # the spare row gets no gradient
        theta_flat = theta.reshape(-1)
        per_entry = (_digamma(y).sub_(torch.digamma(theta_flat).index_select(0, index))
                     .mul_(grad_rows.index_select(0, rows)))
        return torch.zeros_like(theta_flat).index_add_(0, index, per_entry).view_as(theta), None


def _lgamma_terms(theta: torch.Tensor, batch: CountBatch) -> torch.Tensor:
    """Σ_g lgamma(x + theta) − lgamma(theta) − lgamma(x + 1) per cell: sparse, or dense where the batch has no rows.

    The dense form has shapes that do not depend on the data, as a captured CUDA graph needs.
    """
    if batch.rows is not None:
        return _SparseLgamma.apply(theta, batch)
    theta = theta.unsqueeze(-2)
    per_entry = torch.where(batch.x > 0, torch.lgamma(batch.x + theta) - torch.lgamma(theta), 0.0)
    return per_entry.sum(-1) - batch.log_factorial


def nb_log_prob(batch: CountBatch, log_scale: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Negative binomial log-likelihood per cell, mean = library × exp(log_scale), inverse dispersion theta."""
    return (_DenseNB.apply(log_scale, batch.log_library, theta, None, batch.x, None)
            + _lgamma_terms(theta, batch))


def zinb_log_prob(batch: CountBatch, log_scale: torch.Tensor, theta: torch.Tensor,
                  zi_logits: torch.Tensor) -> torch.Tensor:
    """Zero-inflated NB log-likelihood per cell, in scVI's parametrisation (dropout logits `zi_logits`)."""
    nonzero = torch.sign(batch.x)  # counts are >= 0: 1 at the non-zero entries, else 0
    return (_DenseNB.apply(log_scale, batch.log_library, theta, zi_logits, batch.x, nonzero)
            + _lgamma_terms(theta, batch))


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
        # log1p(x), as log(x + 1): the same for counts (x + 1 is exact) and faster on the CPU.
        hidden = self.encoder(torch.log(x + 1.0))
        # scVI: variance = exp(output) + 1e-4, which keeps the posterior away from a point mass.
        logvar = torch.log(torch.exp(self.z_var(hidden)) + 1e-4)
        return self.z_mean(hidden), logvar

    def log_proportions(self, z: torch.Tensor) -> torch.Tensor:
        """The decoded share of each gene in a cell's expected expression, as natural logs (cells × genes),
        at latent points z (cells × latent); the expected counts are the cell's library times its shares."""
        return F.log_softmax(self.scale_logits(self.decoder(z)), dim=-1)


# --- K models at once ---------------------------------------------------------------------------

class StackedLinear(nn.Module):
    """K linear layers: weight models × in × out, bias models × 1 × out; input models × cells × in."""

    def __init__(self, n_models: int, n_in: int, n_out: int) -> None:
        super().__init__()
        # nn.Linear's initialisation: uniform on ±1/sqrt(fan in), weights and biases.
        bound = 1.0 / n_in ** 0.5
        self.weight = nn.Parameter(torch.empty(n_models, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_models, 1, n_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)

    @classmethod
    def stack(cls, layers: Sequence[nn.Linear]) -> StackedLinear:
        """The layers' own weights, one per model, in the stacked layout."""
        stacked = cls(len(layers), layers[0].in_features, layers[0].out_features)
        stacked.copy_from(layers)
        return stacked.to(layers[0].weight.device)

    @torch.no_grad()
    def copy_from(self, layers: Sequence[nn.Linear]) -> None:
        self.weight.copy_(torch.stack([layer.weight.mT for layer in layers]))
        self.bias.copy_(torch.stack([layer.bias[None] for layer in layers]))

    @torch.no_grad()
    def unstack_into(self, k: int, layer: nn.Linear) -> None:
        layer.weight.copy_(self.weight[k].mT)
        layer.bias.copy_(self.bias[k, 0])


class StackedBatchNorm(nn.Module):
    """K BatchNorm1d layers: per-model batch statistics over its own cells, per-model running statistics.

    The same arithmetic as torch's BatchNorm1d in training and eval mode (biased variance to
    normalise, unbiased variance into the running average).
    """

    def __init__(self, n_models: int, n_features: int, momentum: float, eps: float) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight = nn.Parameter(torch.ones(n_models, 1, n_features))
        self.bias = nn.Parameter(torch.zeros(n_models, 1, n_features))
        self.register_buffer("running_mean", torch.zeros(n_models, 1, n_features))
        self.register_buffer("running_var", torch.ones(n_models, 1, n_features))
        self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            mean, var = self.running_mean, self.running_var
        else:
            var, mean = torch.var_mean(x, dim=1, keepdim=True, correction=0)
            n = x.shape[1]
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var * (n / (n - 1)), self.momentum)
                self.num_batches_tracked.add_(1)
        return torch.addcmul(self.bias, x - mean, self.weight * torch.rsqrt(var + self.eps))

    @classmethod
    def stack(cls, layers: Sequence[nn.BatchNorm1d]) -> StackedBatchNorm:
        first = layers[0]
        stacked = cls(len(layers), first.num_features, first.momentum, first.eps)
        with torch.no_grad():
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(stacked, name).copy_(torch.stack([getattr(layer, name)[None] for layer in layers]))
            stacked.num_batches_tracked.copy_(first.num_batches_tracked)
        return stacked.to(first.weight.device)

    @torch.no_grad()
    def unstack_into(self, k: int, layer: nn.BatchNorm1d) -> None:
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(layer, name).copy_(getattr(self, name)[k, 0])
        layer.num_batches_tracked.copy_(self.num_batches_tracked)


def per_model_draws(shape: Sequence[int], generators: Sequence[torch.Generator], kind: str,
                    device: torch.device, p: float = 0.5) -> torch.Tensor:
    """models × `shape` random numbers, model k's drawn from generators[k] alone.

    kind: "normal" (standard normal), "uniform" ([0, 1)) or "bernoulli" (1 with probability p).
    Model k thus draws the same numbers whether it is trained alone or inside a stack.
    """
    out = torch.empty(len(generators), *shape, device=device)
    for k, generator in enumerate(generators):
        if kind == "normal":
            out[k].normal_(generator=generator)
        elif kind == "uniform":
            out[k].uniform_(generator=generator)
        else:
            out[k].bernoulli_(p, generator=generator)
    return out


def _layers(vae: VAE) -> list[nn.Module]:
    """The Linear and BatchNorm layers of `vae`, in a fixed order that pairs them with a `StackedVAE`'s."""
    encoder = [m for m in vae.encoder if isinstance(m, (nn.Linear, nn.BatchNorm1d))]
    decoder = [m for m in vae.decoder if isinstance(m, (nn.Linear, nn.BatchNorm1d))]
    heads = [vae.scale_logits] + ([vae.zi_logits] if vae.zi_logits is not None else [])
    return [*encoder, vae.z_mean, vae.z_var, *decoder, *heads]


class StackedVAE(nn.Module):
    """K `VAE`s of one architecture trained at once: the same math, a leading model dimension throughout.

    Built from K ordinary VAEs (each initialised as when trained alone) and written back into
    them with `unstack_into`. Each model gets its own cells (x is models × cells × genes), its
    own BatchNorm statistics and its own dropout masks and reparameterisation noise, drawn from
    its own generator.
    """

    def __init__(self, vaes: Sequence[VAE]) -> None:
        super().__init__()
        first = vaes[0]
        self.likelihood, self.n_latent, self.n_models = first.likelihood, first.n_latent, len(vaes)
        dropouts = [m for m in first.encoder if isinstance(m, nn.Dropout)]
        self.dropout = dropouts[0].p if dropouts else 0.0
        stacked = []
        for layers in zip(*map(_layers, vaes)):
            kind = StackedLinear if isinstance(layers[0], nn.Linear) else StackedBatchNorm
            stacked.append(kind.stack(layers))
        n_hidden_layers = sum(isinstance(m, nn.Linear) for m in first.encoder)
        self.encoder = nn.ModuleList(stacked[:2 * n_hidden_layers])
        self.z_mean, self.z_var = stacked[2 * n_hidden_layers:2 * n_hidden_layers + 2]
        self.decoder = nn.ModuleList(stacked[2 * n_hidden_layers + 2:4 * n_hidden_layers + 2])
        self.heads = nn.ModuleList(stacked[4 * n_hidden_layers + 2:])
        self.log_theta = nn.Parameter(torch.stack([vae.log_theta.detach() for vae in vaes]))

    @torch.no_grad()
    def unstack_into(self, vaes: Sequence[VAE]) -> None:
        """Copy model k's parameters and running statistics into vaes[k]."""
        stacked = [*self.encoder, self.z_mean, self.z_var, *self.decoder, *self.heads]
        for k, vae in enumerate(vaes):
            for layer, target in zip(stacked, _layers(vae)):
                layer.unstack_into(k, target)
            vae.log_theta.copy_(self.log_theta[k])

    def _hidden(self, blocks: nn.ModuleList, h: torch.Tensor, generators: Sequence[torch.Generator] | None,
                dropout: float) -> torch.Tensor:
        for linear, norm in zip(blocks[::2], blocks[1::2]):
            h = torch.relu(norm(linear(h)))
            if dropout > 0 and self.training:
                keep = per_model_draws(h.shape[1:], generators, "bernoulli", h.device, p=1.0 - dropout)
                h = h * keep.mul_(1.0 / (1.0 - dropout))
        return h

    def encode(self, x: torch.Tensor, generators: Sequence[torch.Generator] | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance of z (models × cells × latent) for counts x (models × cells × genes)."""
        hidden = self._hidden(self.encoder, torch.log(x + 1.0), generators, self.dropout)
        return self.z_mean(hidden), torch.log(torch.exp(self.z_var(hidden)) + 1e-4)

    def forward(self, batch: CountBatch, generators: Sequence[torch.Generator]) -> VAEOutput:
        mu, logvar = self.encode(batch.x, generators)
        noise = per_model_draws(mu.shape[1:], generators, "normal", mu.device)
        z = mu + noise * torch.exp(0.5 * logvar)
        hidden = self._hidden(self.decoder, z, generators, 0.0)
        log_scale = F.log_softmax(self.heads[0](hidden), dim=-1)
        theta = self.log_theta.exp()
        if self.likelihood == "nb":
            log_likelihood = nb_log_prob(batch, log_scale, theta)
        else:
            log_likelihood = zinb_log_prob(batch, log_scale, theta, self.heads[1](hidden))
        kl_dims = kl_per_dimension(mu, logvar)
        return VAEOutput(z=z, qz_mu=mu, qz_logvar=logvar, recon=-log_likelihood, kl=kl_dims.sum(-1),
                         kl_dims=kl_dims)


@functools.lru_cache
def cpu_has_native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16, AMX or Arm BF16); elsewhere it is emulated."""
    capabilities = torch.cpu.get_capabilities()
    return any(capabilities.get(flag, False) for flag in ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16"))


def fused_adam(params: Sequence[torch.Tensor], lr: float, **options: float | tuple[float, float]
               ) -> torch.optim.Adam:
    """Adam in one fused kernel over all parameters where torch has one (CUDA, and CPU from torch 2.4).

    Adam is elementwise, so one Adam over stacked parameters is exactly one Adam per model.
    """
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True, **options)
    except RuntimeError:
        return torch.optim.Adam(params, lr=lr, **options)
