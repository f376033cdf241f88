"""Milliseconds per training step of the decoder's output and the ZINB likelihood: scbeta's eager
code against the same math compiled into fused kernels by `torch.compile`.

Run:
    python benchmarks/fused_likelihood.py [--threads 1 2] [--steps 400] [--epochs 400] [--cells 5000]

The part measured is the one that works on batch × genes, most of a VAE step ("Where the time
goes" in benchmarks/README.md): the decoder's two output heads (128 → 2,000 genes), the
log-softmax of the scale, and the dense terms of the ZINB log-likelihood, forward and backward
(scbeta's `_DenseNB`, with its hand-written backward), for one model on a batch of 128 cells of
the speed benchmarks' simulated counts. The compiled variant writes the same likelihood with
plain torch ops and lets Inductor fuse forward and backward (its C++ code needs a C++
compiler at run time). Reported per thread count: the compile time, the median wall and CPU
milliseconds per step over `--steps` steps (after 10 warm-up steps), the largest relative
difference of the loss and of the gradients, and what compiling saves over a whole model at the
default size (`--epochs` epochs of `--cells` cells, batch 128), compile time included. Inductor's
on-disk caches are off (unless TORCHINDUCTOR_FORCE_DISABLE_CACHES is set otherwise), so that the
compile time is a first job's.

A second pair of rows compiles the whole forward pass of the VAE (`torch.compile` of a
`StackedVAE` of one model, dynamic shapes for the batch's varying non-zeros) against the eager
module, forward and backward of the loss on batches drawn from the same counts. Dynamo breaks
that graph where each model draws its dropout masks and noise from its own generator.
"""
from __future__ import annotations

import argparse
import math
import os
import time
from typing import Callable

os.environ.setdefault("TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from scbeta.module import VAE, StackedVAE, _DenseNB  # noqa: E402
from scbeta.train import CountStore  # noqa: E402
from _common import median_step_ms, simulated_counts  # noqa: E402

BATCH, HIDDEN, GENES = 128, 128, 2000


def eager_loss(hidden, w_scale, b_scale, w_zi, b_zi, log_theta, x, nonzero, log_library):  # noqa: ANN001, ANN201
    """scbeta's own: −(dense ZINB terms) summed over cells."""
    log_scale = F.log_softmax(F.linear(hidden, w_scale, b_scale), dim=-1)
    zi_logits = F.linear(hidden, w_zi, b_zi)
    return -_DenseNB.apply(log_scale, log_library, log_theta.exp(), zi_logits, x, nonzero).sum()


def plain_loss(hidden, w_scale, b_scale, w_zi, b_zi, log_theta, x, nonzero, log_library):  # noqa: ANN001, ANN201
    """The same terms in plain torch ops, for autograd and Inductor to differentiate and fuse."""
    log_scale = F.log_softmax(F.linear(hidden, w_scale, b_scale), dim=-1)
    zi_logits = F.linear(hidden, w_zi, b_zi)
    theta = log_theta.exp().unsqueeze(-2) + 1e-8
    log_theta_ = torch.log(theta)
    log_mu = log_scale + log_library.unsqueeze(-1)
    log_theta_mu = torch.logaddexp(log_mu, log_theta_)
    p = theta * (log_theta_ - log_theta_mu) - zi_logits
    per_entry = x * (log_mu - log_theta_mu) + torch.lerp(F.softplus(p), p, nonzero) - F.softplus(-zi_logits)
    return -per_entry.sum()


def _inputs(n_cells: int) -> list[torch.Tensor]:
    """The arguments of one step: decoder hidden units and head parameters (random, differentiable) and
    a batch of simulated counts with its non-zero mask and log library sizes."""
    counts = simulated_counts(n_cells, GENES).X
    x = torch.as_tensor(counts[:BATCH].toarray(), dtype=torch.float32)
    generator = torch.Generator().manual_seed(0)
    hidden = torch.relu(torch.randn(BATCH, HIDDEN, generator=generator))
    params = [torch.randn(GENES, HIDDEN, generator=generator) / math.sqrt(HIDDEN), torch.zeros(GENES),
              torch.randn(GENES, HIDDEN, generator=generator) / math.sqrt(HIDDEN), torch.zeros(GENES),
              torch.randn(GENES, generator=generator)]
    for param in params:
        param.requires_grad_(True)
    hidden.requires_grad_(True)
    return [hidden, *params, x, torch.sign(x), torch.log(x.sum(-1))]


def _step(loss_fn, inputs: list[torch.Tensor]) -> torch.Tensor:  # noqa: ANN001
    """One forward and backward of `loss_fn`; the gradients land in the inputs' `.grad`."""
    for t in inputs:
        t.grad = None
    loss = loss_fn(*inputs)
    loss.backward()
    return loss.detach()


def _loss_and_grads(loss_fn, inputs: list[torch.Tensor]) -> tuple[float, list[torch.Tensor]]:  # noqa: ANN001
    loss = _step(loss_fn, inputs)
    return float(loss), [t.grad.clone() for t in inputs if t.requires_grad]


def _vae_steps(n_cells: int) -> tuple[torch.nn.Module, Callable[[Callable], None]]:
    """A one-model StackedVAE in training mode and a function of it that runs one step (forward and
    backward of the mean loss) on 128 cells drawn from `n_cells` simulated cells."""
    store = CountStore(simulated_counts(n_cells, GENES).X, torch.device("cpu"))
    torch.manual_seed(0)
    module = StackedVAE([VAE(GENES, dropout=0.1, likelihood="zinb")]).train()
    generators, draw = [torch.Generator().manual_seed(0)], torch.Generator().manual_seed(1)

    def step(forward) -> None:  # noqa: ANN001
        module.zero_grad(set_to_none=True)
        out = forward(store.batch(torch.randint(0, n_cells, (1, BATCH), generator=draw)), generators)
        (out.recon + out.kl).mean().backward()

    return module, step


def _max_relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=400, help="a whole model's epochs (the default size's)")
    parser.add_argument("--cells", type=int, default=5000, help="a whole model's cells (the default size's)")
    args = parser.parse_args()
    inputs = _inputs(args.cells)
    steps_per_model = args.epochs * math.ceil(args.cells / BATCH)
    print(f"torch {torch.__version__}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
          f"load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}; batch {BATCH} × {GENES} genes, ZINB; "
          f"a model: {steps_per_model} steps")
    print(f"{'threads':>7} {'part':<10} {'variant':<9} {'compile s':>9} {'ms/step':>8} {'CPU ms':>7} "
          f"{'loss diff':>9} {'grad diff':>9} {'saved s/model':>13}")
    module, vae_step = _vae_steps(args.cells)
    for threads in args.threads:
        torch.set_num_threads(threads)
        torch._dynamo.reset()
        loss, grads = _loss_and_grads(eager_loss, inputs)
        wall, cpu = median_step_ms(lambda: _step(eager_loss, inputs), args.steps, warmup=10)
        print(f"{threads:>7} {'likelihood':<10} {'eager':<9} {'':>9} {wall:>8.2f} {cpu:>7.2f}", flush=True)
        compiled = torch.compile(plain_loss, fullgraph=True, dynamic=False)
        tic = time.perf_counter()
        compiled_loss, compiled_grads = _loss_and_grads(compiled, inputs)
        compile_seconds = time.perf_counter() - tic
        compiled_wall, compiled_cpu = median_step_ms(lambda: _step(compiled, inputs), args.steps, warmup=10)
        saved = steps_per_model * (wall - compiled_wall) / 1e3 - compile_seconds
        grad_diff = max(_max_relative(a, b) for a, b in zip(compiled_grads, grads))
        print(f"{threads:>7} {'likelihood':<10} {'compiled':<9} {compile_seconds:>9.1f} {compiled_wall:>8.2f} "
              f"{compiled_cpu:>7.2f} {abs(compiled_loss - loss) / abs(loss):>9.1e} {grad_diff:>9.1e} "
              f"{saved:>13.1f}", flush=True)
        wall, cpu = median_step_ms(lambda: vae_step(module), args.steps, warmup=10)
        print(f"{threads:>7} {'VAE step':<10} {'eager':<9} {'':>9} {wall:>8.2f} {cpu:>7.2f}", flush=True)
        compiled_module = torch.compile(module, dynamic=True)
        tic = time.perf_counter()
        vae_step(compiled_module)
        compile_seconds = time.perf_counter() - tic
        compiled_wall, compiled_cpu = median_step_ms(lambda: vae_step(compiled_module), args.steps, warmup=10)
        saved = steps_per_model * (wall - compiled_wall) / 1e3 - compile_seconds
        print(f"{threads:>7} {'VAE step':<10} {'compiled':<9} {compile_seconds:>9.1f} {compiled_wall:>8.2f} "
              f"{compiled_cpu:>7.2f} {'':>9} {'':>9} {saved:>13.1f}", flush=True)
    print(f"load average after: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
