"""Seconds per epoch and final ELBO of scbeta.fit against scvi-tools' SCVI, same model, same data.

Run (in a virtualenv that has both packages, see benchmarks/README.md):
    python benchmarks/train_speed.py [--cells 4000 25000] [--epochs 5] [--likelihood zinb|nb] [--scbeta-only]
                                     [--models 1 4 8 16] [--device cpu|cuda] [--bf16]
                                     [--objective beta factorvae:gamma=10,discriminator_precision=float32 ...]

With --models, scbeta trains K models at once (`scbeta.fit_many`, K seeds, β = 1) for each K
and reports seconds per model-epoch (the group's epoch divided by K); scvi-tools, where it is
installed, trains its one model as before. --bf16 runs the stacked linear layers under
bfloat16 autocast (the likelihood stays float32), to measure whether that pays. --objective
trains each given objective in turn (NAME or NAME:key=value,...; default beta:beta=1), to set
the cost of an objective beside the β-VAE's.

Both tools train the same architecture (1 × 128 hidden, 10 latent, dropout 0.1), likelihood,
batch size (128), optimiser (Adam, lr 1e-3, eps 0.01, weight decay 1e-6) and KL warm-up on all
cells of the same simulated counts (~70 % zeros), on 2 threads. scbeta.fit caps its 400-epoch
warm-up at the length of the run (the KL weight rises linearly to 1 over a 5-epoch run), so
scvi-tools gets the same per-step ramp (n_steps_kl_warmup = all steps of the run).

Seconds per epoch is the median over the epochs after the first, in wall-clock time and in CPU
time of the process (less sensitive to other load on the machine). After training, each model's
negative ELBO per cell (reconstruction + KL at weight 1, nats) is evaluated the same way, in eval
mode, on the training cells. The floor is this machine's lower bound for scbeta's work: the
matrix products at the measured rate of a large matmul plus scbeta's elementwise passes over
batch × genes at the measured rate of an add on a batch-sized tensor (all of it in cache).
"""
from __future__ import annotations

import os

# OpenMP workers that spin between parallel regions (the default) stall each other on a busy
# machine: 10× slower epochs for both tools at a load average of 3 on 2 cores. Sleeping workers
# are robust to load but make each parallel op pay a wake-up, about 2× slower for scbeta's many
# small ops on an idle machine. So sleeping is the default here; on an idle machine, run with
# OMP_WAIT_POLICY=ACTIVE. Must be set before torch loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import anndata as ad  # noqa: E402
import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils._pytree import tree_flatten  # noqa: E402

import scbeta  # noqa: E402
from scbeta.model import RUN_KEYS  # noqa: E402
from scbeta.module import VAE, StackedVAE  # noqa: E402
from scbeta.train import CountStore  # noqa: E402
from _common import simulated_counts  # noqa: E402

THREADS = 2
ARCH = {"n_hidden": 128, "n_latent": 10, "n_layers": 1}
DROPOUT, BATCH, LR, WARMUP = 0.1, 128, 1e-3, 400
N_GENES = 2000


class _EpochClock(logging.Handler):
    """Wall-clock and CPU time at each epoch's log line of scbeta's training loop."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.marks = [(time.perf_counter(), time.process_time())]

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("epoch "):
            self.marks.append((time.perf_counter(), time.process_time()))


def parse_objective(text: str) -> dict:
    """A run of `scbeta.fit_many` from NAME or NAME:key=value,... (numbers as floats; keys a run does not
    take itself, `scbeta.model.RUN_KEYS`, go into its objective_params)."""
    name, _, options = text.partition(":")
    run: dict = {"objective": name, "objective_params": {}}
    for option in filter(None, options.split(",")):
        key, _, value = option.partition("=")
        try:
            parsed: float | str = float(value)
        except ValueError:
            parsed = value
        if key in RUN_KEYS:
            run[key] = parsed
        else:
            run["objective_params"][key] = parsed
    return run


def run_scbeta_many(adata: ad.AnnData, epochs: int, likelihood: str, n_models: int, device: str,
                    objective: dict | None = None) -> tuple[float, float, float]:
    """(median wall s per epoch, median CPU s per epoch, −ELBO per cell of the first model) for K models
    at once, each with `objective` (a run's objective and options; default β-VAE at β = 1)."""
    logger = logging.getLogger("scbeta")
    clock, level = _EpochClock(), logger.level
    logger.addHandler(clock)
    logger.setLevel(logging.INFO)
    objective = objective or {"objective": "beta", "beta": 1.0}
    runs = [{**objective, "seed": seed} for seed in range(n_models)]
    try:
        models = scbeta.fit_many(adata, runs, epochs=epochs, batch_size=BATCH, lr=LR, dropout=DROPOUT,
                                 likelihood=likelihood, kl_warmup_epochs=epochs, device=device, **ARCH)
    finally:
        logger.removeHandler(clock)
        logger.setLevel(level)
    laps = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(clock.marks[1:], clock.marks[2:])]  # epochs 2, 3, ...
    return statistics.median(w for w, _ in laps), statistics.median(c for _, c in laps), _neg_elbo(models[0], adata)


def _neg_elbo(model: scbeta.Model, adata: ad.AnnData) -> float:
    """−ELBO per cell (nats) in eval mode, one posterior sample per cell, through the training step's
    forward pass (the model as a stack of one)."""
    store = CountStore(adata.X, model.device)
    module = StackedVAE([model.module]).eval()
    generators = [torch.Generator(model.device).manual_seed(1)]
    total = 0.0
    with torch.no_grad():
        for idx in torch.arange(store.n_cells, device=model.device).split(BATCH):
            out = module(store.batch(idx[None]), generators)
            total += float((out.recon + out.kl).sum())
    return total / store.n_cells


def _use_bf16_linear_layers() -> None:
    """bfloat16 autocast for the stacked linear layers only; their outputs go on in float32."""
    from scbeta.module import StackedLinear

    def forward(self, x):  # noqa: ANN001, ANN202
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            return torch.baddbmm(self.bias, x, self.weight).float()

    StackedLinear.forward = forward


def run_scvi(adata: ad.AnnData, epochs: int, likelihood: str) -> tuple[float, float, float]:
    """(median wall s per epoch, median CPU s per epoch, −ELBO per cell), trained on every cell (no validation)."""
    import lightning.pytorch as pl
    import scvi

    class EpochClock(pl.Callback):
        def __init__(self) -> None:
            self.laps: list[tuple[float, float]] = []

        def on_train_epoch_start(self, trainer, module) -> None:  # noqa: ANN001
            self.tic = (time.perf_counter(), time.process_time())

        def on_train_epoch_end(self, trainer, module) -> None:  # noqa: ANN001
            self.laps.append((time.perf_counter() - self.tic[0], time.process_time() - self.tic[1]))

    scvi.settings.seed = 0
    adata = adata.copy()
    scvi.model.SCVI.setup_anndata(adata)
    model = scvi.model.SCVI(adata, dropout_rate=DROPOUT, gene_likelihood=likelihood, **ARCH)
    clock = EpochClock()
    steps = epochs * math.ceil(adata.n_obs / BATCH)
    model.train(max_epochs=epochs, batch_size=BATCH, train_size=1.0, accelerator="cpu", devices=1,
                plan_kwargs={"lr": LR, "weight_decay": 1e-6, "eps": 0.01, "n_epochs_kl_warmup": None,
                             "n_steps_kl_warmup": steps},
                callbacks=[clock], enable_progress_bar=False)
    model.module.eval()
    torch.manual_seed(1)
    laps = clock.laps[1:]  # the first epoch pays for lazy initialisation
    # get_elbo returns the ELBO (higher is better): minus the mean of reconstruction loss + KL.
    return (statistics.median(w for w, _ in laps), statistics.median(c for _, c in laps),
            -float(model.get_elbo(adata, batch_size=BATCH)))


class _DensePasses(TorchDispatchMode):
    """Counts the aten calls that write a tensor of `numel` elements, matrix products and views excluded."""

    def __init__(self, numel: int) -> None:
        super().__init__()
        self.numel, self.count = numel, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        if not func.is_view and func.overloadpacket.__name__ not in ("mm", "addmm", "bmm", "baddbmm") and any(
                isinstance(t, torch.Tensor) and t.numel() == self.numel for t in tree_flatten(out)[0]):
            self.count += 1
        return out


def dense_passes_per_step(likelihood: str) -> int:
    """Elementwise passes over cells × genes in one scbeta training step (forward and backward)."""
    cells = 100  # not 128: 128 × 2000 is also the size of a decoder weight, which Adam updates
    adata = simulated_counts(cells, N_GENES)
    module = StackedVAE([VAE(N_GENES, dropout=DROPOUT, likelihood=likelihood, **ARCH)])
    batch = CountStore(adata.X, torch.device("cpu")).batch(torch.arange(cells)[None])
    counter = _DensePasses(cells * N_GENES)
    with counter:
        out = module(batch, [torch.Generator().manual_seed(0)])
        (out.recon + out.kl).mean().backward()
    return counter.count


def _best_seconds(op, repeats: int = 50) -> float:  # noqa: ANN001
    """Fastest wall-clock seconds of one call: a floor is the machine's best, not its average under load."""
    op()
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        op()
        times.append(time.perf_counter() - tic)
    return min(times)


def floor(n_cells: int, likelihood: str, passes: int) -> tuple[float, float]:
    """(matmul seconds, elementwise seconds) per epoch at this machine's measured rates.

    Leaves out Adam (the fused step over 0.77 M parameters), the sparse lgamma terms and the
    per-op overhead of the framework, so it is a lower bound.
    """
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    flops_per_second = 2 * 2048**3 / _best_seconds(lambda: a @ b, repeats=10)
    x, y = torch.randn(BATCH, N_GENES), torch.randn(BATCH, N_GENES)
    elements_per_second = x.numel() / _best_seconds(lambda: torch.add(x, y, out=x))
    heads = 2 if likelihood == "zinb" else 1
    hidden = ARCH["n_hidden"]
    # Per cell: encoder G×H forward and weight gradient (the input needs none); each decoder head
    # H×G forward, weight gradient and input gradient. The 10-wide latent layers are negligible.
    flops = n_cells * (2 * 2 * N_GENES * hidden + heads * 3 * 2 * hidden * N_GENES)
    return flops / flops_per_second, passes * n_cells * N_GENES / elements_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, nargs="+", default=[4000, 25_000])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--likelihood", choices=("zinb", "nb"), default="zinb")
    parser.add_argument("--scbeta-only", action="store_true", help="skip scvi-tools")
    parser.add_argument("--models", type=int, nargs="+", help="train K models at once for each K (e.g. 1 4 8 16)")
    parser.add_argument("--device", default="cpu", help="device for scbeta with --models (cpu, cuda)")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast of the stacked linear layers")
    parser.add_argument("--objective", nargs="+", default=["beta:beta=1"],
                        help="with --models: objectives trained in turn, NAME or NAME:key=value,...")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    if args.bf16:
        _use_bf16_linear_layers()
    versions = f"torch {torch.__version__}, scbeta {scbeta.__version__}"
    with_scvi = not args.scbeta_only
    if with_scvi:
        try:
            import scvi

            versions += f", scvi-tools {scvi.__version__}"
        except ImportError:
            with_scvi = False
            versions += ", scvi-tools not installed (skipped)"
    print(f"{versions}; {THREADS} threads, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, "
          f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.models:
        print(f"{args.likelihood}, batch {BATCH}, {args.epochs} epochs, {N_GENES} genes, device {args.device}"
              f"{', bf16 linear layers' if args.bf16 else ''}")
        width = max(len(objective) for objective in [*args.objective, "objective"])
        print(f"{'cells':>7}  {'tool':<10} {'objective':<{width}} {'K':>3} {'s/epoch':>8} {'s/model-epoch':>14} "
              f"{'CPU s/model-epoch':>18} {'-ELBO/cell':>11}")
        for n_cells in args.cells:
            adata = simulated_counts(n_cells, N_GENES)
            for objective in args.objective:
                for n_models in args.models:
                    wall, cpu, elbo = run_scbeta_many(adata, args.epochs, args.likelihood, n_models, args.device,
                                                      parse_objective(objective))
                    print(f"{n_cells:>7}  {'scbeta':<10} {objective:<{width}} {n_models:>3} {wall:>8.2f} "
                          f"{wall / n_models:>14.3f} {cpu / n_models:>18.3f} {elbo:>11.2f}", flush=True)
            if with_scvi:
                wall, cpu, elbo = run_scvi(adata, args.epochs, args.likelihood)
                print(f"{n_cells:>7}  {'scvi-tools':<10} {'beta:beta=1':<{width}} {1:>3} {wall:>8.2f} {wall:>14.3f} "
                      f"{cpu:>18.3f} {elbo:>11.2f}", flush=True)
        print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        return
    passes = dense_passes_per_step(args.likelihood)
    print(f"{args.likelihood}, batch {BATCH}, {args.epochs} epochs, {N_GENES} genes; "
          f"{passes} elementwise passes over batch × genes per scbeta step")
    print(f"{'cells':>7}  {'tool':<10} {'s/epoch':>8} {'CPU s':>7} {'ratio':>6} {'-ELBO/cell':>11}")
    for n_cells in args.cells:
        adata = simulated_counts(n_cells, N_GENES)
        ours, ours_cpu, ours_elbo = run_scbeta_many(adata, args.epochs, args.likelihood, 1, "cpu")  # = scbeta.fit
        print(f"{n_cells:>7}  {'scbeta':<10} {ours:>8.2f} {ours_cpu:>7.2f} {1:>6.2f} {ours_elbo:>11.2f}", flush=True)
        if with_scvi:
            theirs, theirs_cpu, theirs_elbo = run_scvi(adata, args.epochs, args.likelihood)
            print(f"{n_cells:>7}  {'scvi-tools':<10} {theirs:>8.2f} {theirs_cpu:>7.2f} {theirs / ours:>6.2f} "
                  f"{theirs_elbo:>11.2f}  (ELBO {100 * (theirs_elbo - ours_elbo) / theirs_elbo:+.2f} %)", flush=True)
        matmul, elementwise = floor(n_cells, args.likelihood, passes)
        print(f"{n_cells:>7}  {'floor':<10} {matmul + elementwise:>8.2f}  = {matmul:.2f} s matmul "
              f"+ {elementwise:.2f} s elementwise", flush=True)
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
