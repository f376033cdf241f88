"""Milliseconds per model and training step of FactorVAE's discriminator, float32 against bfloat16.

Run:
    python benchmarks/discriminator_precision.py [--models 1 6] [--threads 1 2] [--steps 20]

One step is what FactorVAE adds to a VAE step (`scbeta.objectives.FactorVAE`): D on the batch's
z with its weights held fixed, forward and backward to z (the TC term of the VAE's loss), then
D's own update on z against its dimension-wise permutation, forward, backward and Adam. The
paper's D (6 layers of 1,000 units) on batch 128 and 10 latent dimensions: about 8 GFLOP a step,
nearly all of it in matrix products, for one model or each of K stacked models (`--models`).
Wall and CPU milliseconds per model-step are medians over `--steps` steps after 3 warm-up steps;
"GFLOP/s" counts the products only. The last column compares bfloat16 with float32 at the same
K and threads. The CPU's bfloat16 instructions, as torch sees them, are printed first.
"""
from __future__ import annotations

import argparse
import os

import torch

from scbeta.module import VAEOutput
from scbeta.objectives import FactorVAE
from _common import median_step_ms

BATCH, LATENT, WIDTH = 128, 10, 1000


def step_flops(batch: int = BATCH, latent: int = LATENT, width: int = WIDTH) -> float:
    """Matrix-product FLOP of one FactorVAE discriminator step (TC term, then D's update) for one model."""
    forward_per_cell = 2 * (latent * width + 4 * width * width + width * 2)
    tc = batch * forward_per_cell * 2  # forward, then the gradient to z (no weight gradients)
    update = 2 * batch * forward_per_cell * 3  # forward, weight gradients and input gradients on z and its permutation
    return float(tc + update)


def measure(n_models: int, precision: str, steps: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds per model-step."""
    torch.manual_seed(0)
    gamma = 10.0 if n_models == 1 else [10.0] * n_models
    objective = FactorVAE(gamma=gamma, n_latent=LATENT, discriminator_width=WIDTH, discriminator_precision=precision)
    shape = (BATCH, LATENT) if n_models == 1 else (n_models, BATCH, LATENT)
    z = torch.randn(shape)
    zeros = torch.zeros(shape[:-1])

    def step() -> None:
        attached = z.clone().requires_grad_(True)
        out = VAEOutput(z=attached, qz_mu=z, qz_logvar=z, recon=zeros, kl=zeros)
        objective(out, 1.0)["loss"].sum().backward()
        objective.update(out)

    wall, cpu = median_step_ms(step, steps, warmup=3)
    return wall / n_models, cpu / n_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="+", default=[1, 6])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    capabilities = {key: value for key, value in torch.cpu.get_capabilities().items() if "bf16" in key}
    print(f"torch {torch.__version__}; bfloat16 instructions: {capabilities}; load average {os.getloadavg()[0]:.2f}")
    print("| threads | K | precision | ms/model-step | CPU ms/model-step | GFLOP/s | bfloat16 vs float32 |")
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for n_models in args.models:
            float32_ms = None
            for precision in ("float32", "bfloat16"):
                wall_ms, cpu_ms = measure(n_models, precision, args.steps)
                ratio = "" if float32_ms is None else f"{float32_ms / wall_ms:.2f}×"
                float32_ms = wall_ms if float32_ms is None else float32_ms
                print(f"| {threads} | {n_models} | {precision} | {wall_ms:.1f} | {cpu_ms:.1f} | "
                      f"{step_flops() / wall_ms / 1e6:.0f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
