"""The training loop: K models in one step, counts on the device, checkpoints that resume exactly.

One step trains every model of a group on its own minibatch (`StackedVAE`): forward, backward,
one fused Adam over the stacked parameters, and the objective's own update. Nothing in an
epoch reads a value back to the host; the history is summed on the device and read once per
epoch. On CUDA, the step has static shapes and is captured once in a CUDA graph and replayed.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from scbeta._io import atomic_path
from scbeta.module import CountBatch, StackedVAE, fused_adam
from scbeta.objectives import Objective

logger = logging.getLogger("scbeta")

CHECKPOINT_FILE = "checkpoint.pt"
DENSE_LIMIT_BYTES = 2 * 1024**3  # counts up to this size are held dense on a CUDA device
EAGER_STEPS_BEFORE_CAPTURE = 3  # a CUDA graph is captured after a few eager steps have set up Adam's state


def pick_device(requested: str = "auto", *, cuda: bool | None = None, mps: bool | None = None) -> torch.device:
    """Resolve "auto" to CUDA, then Apple MPS, then CPU; pass anything else to torch.

    `cuda` and `mps` override the availability probes (for tests and for dry runs).
    """
    if requested != "auto":
        device = torch.device(requested)
        if device.type == "cuda" and not (torch.cuda.is_available() if cuda is None else cuda):
            raise ValueError(f"device {requested!r} requested but CUDA is not available on this machine")
        return device
    cuda = torch.cuda.is_available() if cuda is None else cuda
    if mps is None:
        mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if cuda:
        return torch.device("cuda")
    if mps:
        return torch.device("mps")
    return torch.device("cpu")


class CountStore:
    """Raw counts (cells × genes) held on the device; minibatches are gathered by index.

    As CSR arrays (4 bytes value + 4 bytes column per non-zero entry, so a million cells fit
    where a dense matrix would not) or, with `dense` (by default on CUDA when the matrix takes
    less than `DENSE_LIMIT_BYTES`), as one dense matrix, gathered by rows with static shapes.
    """

    def __init__(self, counts: sp.csr_matrix, device: torch.device, dense: bool | None = None) -> None:
        counts = sp.csr_matrix(counts, dtype=np.float32)
        self.n_cells, self.n_genes = counts.shape
        self.device = device
        totals = np.asarray(counts.sum(axis=1)).ravel()
        if (totals <= 0).any():
            raise ValueError(f"{int((totals <= 0).sum())} cells have no counts; remove empty cells before training")
        if dense is None:
            dense = device.type == "cuda" and self.n_cells * self.n_genes * 4 < DENSE_LIMIT_BYTES
        self.dense = torch.as_tensor(counts.toarray(), device=device) if dense else None
        if self.dense is None:  # the CSR arrays serve only the sparse gather
            self.indptr = torch.as_tensor(counts.indptr.astype(np.int64), device=device)
            # No copies on the CPU: the store shares the arrays of `counts` (already int32 up to 2^31 entries).
            self.indices = torch.as_tensor(counts.indices.astype(np.int32, copy=False), device=device)
            self.values = torch.as_tensor(counts.data, device=device)
            self._entries_per_cell = np.sort(np.diff(counts.indptr))[::-1]
        self.log_library = torch.as_tensor(np.log(totals), dtype=torch.float32, device=device)
        self.log_factorial = torch.as_tensor(_log_factorials(counts), dtype=torch.float32, device=device)

    def max_entries(self, n_cells: int) -> int:
        """The most non-zero entries any `n_cells` cells hold together: the size of a fixed-shape batch."""
        return int(self._entries_per_cell[:n_cells].sum())

    def batch(self, idx: torch.Tensor, static: bool = False) -> CountBatch:
        """The cells `idx` (on the device; cells, or models × cells) as a `CountBatch` of that leading shape.

        static: shapes that depend only on idx's shape (no host synchronisation on CUDA); a CSR
        store then pads the non-zero entries to `max_entries` with entries of value 0 in a spare row.
        """
        flat = idx.reshape(-1)
        shape = (*idx.shape, self.n_genes)
        log_library, log_factorial = self.log_library[idx], self.log_factorial[idx]
        if self.dense is not None:
            return CountBatch(x=self.dense.index_select(0, flat).view(shape), rows=None, cols=None, values=None,
                              log_library=log_library, log_factorial=log_factorial)
        starts = self.indptr[flat]
        lengths = self.indptr[flat + 1] - starts
        if static:
            size = self.max_entries(idx.shape[-1]) * (flat.numel() // idx.shape[-1])
            lengths = torch.cat([lengths, (size - lengths.sum()).reshape(1)])  # the spare row's padding
            starts = torch.cat([starts, starts.new_zeros(1)])
            rows = torch.repeat_interleave(lengths, output_size=size)
        else:
            rows = torch.repeat_interleave(lengths)
        # An entry's position in the store is its cell's start plus its rank among the cell's entries.
        shift = starts - (torch.cumsum(lengths, 0) - lengths)
        positions = torch.arange(len(rows), device=self.device) + shift.index_select(0, rows)
        if static:
            positions.clamp_(max=len(self.values) - 1)
        cols = self.indices.index_select(0, positions).long()
        values = self.values.index_select(0, positions)
        if static:
            values = values * (rows < flat.numel())  # padding entries count 0
        x = torch.zeros((flat.numel() + static) * self.n_genes, device=self.device)
        x.scatter_(0, rows * self.n_genes + cols, values)
        return CountBatch(x=x[:flat.numel() * self.n_genes].view(shape), rows=rows, cols=cols, values=values,
                          log_library=log_library, log_factorial=log_factorial)


def _log_factorials(counts: sp.csr_matrix, chunk: int = 16_384) -> np.ndarray:
    """Σ_g lgamma(x + 1) per cell, a constant of the likelihood.

    In chunks of cells, so that the float64 temporaries stay a few hundred MB at a million cells.
    """
    from scipy.special import gammaln

    out = np.empty(counts.shape[0])
    for start in range(0, counts.shape[0], chunk):
        indptr = counts.indptr[start:start + chunk + 1]
        n_rows = len(indptr) - 1
        rows = np.repeat(np.arange(n_rows), np.diff(indptr))
        values = counts.data[indptr[0]:indptr[-1]].astype(np.float64)
        out[start:start + n_rows] = np.bincount(rows, weights=gammaln(values + 1.0), minlength=n_rows)
    return out


def default_epochs(n_cells: int) -> int:
    """scVI's heuristic: min(round(20000 / n_cells × 400), 400)."""
    return int(min(round(20000 / n_cells * 400), 400))


def fingerprint(params: dict[str, Any]) -> str:
    """A short hash of everything that determines a training run, to refuse a stale checkpoint."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _format_seconds(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


@dataclass
class Group:
    """K models trained together: their stacked VAE, their objective, one generator per model, their names."""

    module: StackedVAE
    objective: Objective
    generators: list[torch.Generator]
    names: list[str]


@contextlib.contextmanager
def sync_allowed(device: torch.device) -> Iterator[None]:
    """Deliberate host synchronisation (set-up, the epoch's history, a checkpoint), allowed under torch's sync debug mode.

    `torch.cuda.set_sync_debug_mode("error")` then finds any other synchronisation, i.e. one inside a step.
    """
    if device.type != "cuda":
        yield
        return
    mode = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode(0)
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(mode)


def _save_checkpoint(path: Path, fingerprint: str, epoch: int, histories: list[list[dict[str, float]]],
                     group: Group, optimizer: torch.optim.Optimizer) -> None:
    """Write every model's state, the optimiser, the objective and the generators into one file, atomically."""
    state = {"fingerprint": fingerprint, "epoch": epoch, "histories": histories,
             "module": group.module.state_dict(), "objective": group.objective.state_dict(),
             "optimizer": optimizer.state_dict(), "generators": [g.get_state() for g in group.generators]}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _resume(path: Path | None, fingerprint: str, group: Group, optimizer: torch.optim.Optimizer
            ) -> tuple[list[list[dict[str, float]]], int]:
    """(histories, epochs done) from the checkpoint at `path` if it is this configuration's, else from scratch."""
    fresh: list[list[dict[str, float]]] = [[] for _ in group.names]
    if path is None or not path.exists():
        return fresh, 0
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("fingerprint") != fingerprint:
        logger.warning("ignoring checkpoint %s: it belongs to another configuration", path)
        return fresh, 0
    group.module.load_state_dict(state["module"])
    group.objective.load_state_dict(state["objective"])
    optimizer.load_state_dict(state["optimizer"])
    for generator, generator_state in zip(group.generators, state["generators"]):
        generator.set_state(generator_state)
    logger.info("resuming from %s at epoch %d", path, state["epoch"])
    return state["histories"], state["epoch"]


class _StepRunner:
    """Runs the training step on a (models × cells) index batch: eagerly, or on static buffers, or as a CUDA graph.

    With static buffers the step reads its cells from one index tensor that is refilled in place,
    so that on CUDA it can be captured once (after a few eager steps, on a side stream as CUDA
    graphs require) and replayed. A batch of another size (the epoch's last) runs eagerly.
    """

    def __init__(self, step: Callable[[torch.Tensor], None], static_idx: torch.Tensor | None,
                 generators: Sequence[torch.Generator], cuda_graph: bool) -> None:
        self.step, self.static_idx, self.generators = step, static_idx, generators
        self.use_graph = cuda_graph and static_idx is not None
        self.graph: Any = None
        self.eager_steps = 0

    def __call__(self, idx: torch.Tensor) -> None:
        if self.static_idx is None or idx.shape != self.static_idx.shape:
            self.step(idx)
            return
        self.static_idx.copy_(idx)
        if self.graph is None and self.use_graph and self.eager_steps >= EAGER_STEPS_BEFORE_CAPTURE:
            self.graph = self._capture()
        if self.graph is not None:
            self.graph.replay()
            return
        if self.use_graph:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self.step(self.static_idx)
            torch.cuda.current_stream().wait_stream(side)
        else:
            self.step(self.static_idx)
        self.eager_steps += 1

    def _capture(self) -> Any:
        graph = torch.cuda.CUDAGraph()
        for generator in self.generators:
            graph.register_generator_state(generator)
        with sync_allowed(self.static_idx.device), torch.cuda.graph(graph):
            self.step(self.static_idx)
        return graph


def _epoch_rows(sums: dict[str, torch.Tensor], n_cells: int, epoch: int,
                device: torch.device) -> list[dict[str, float]]:
    """One history row per model from the epoch's sums on the device, read back in one copy."""
    n_models = next(iter(sums.values())).shape[0]
    with sync_allowed(device):
        values = torch.cat([value.reshape(n_models, -1) for value in sums.values()], dim=1).cpu().numpy() / n_cells
    rows = []
    for k in range(n_models):
        row: dict[str, float] = {"epoch": epoch}
        column = 0
        for key, value in sums.items():
            if key == "kl_dims":
                row.update({f"kl_dim{d}": float(v) for d, v in enumerate(values[k, column:column + value.shape[1]])})
                column += value.shape[1]
            else:
                row[key] = float(values[k, column])
                column += 1
        rows.append(row)
    return rows


def train(group: Group, store: CountStore, *, epochs: int, batch_size: int = 128, lr: float = 1e-3,
          checkpoint_dir: str | Path | None = None, checkpoint_every: int = 10, fingerprint: str = "",
          static_shapes: bool | None = None, cuda_graph: bool = True) -> list[pd.DataFrame]:
    """Train the group's models in place; return each model's per-epoch history (means per cell).

    Each model draws its own cells each step (its own shuffle), dropout masks and noise from its
    own generator. With `checkpoint_dir`, one checkpoint of the whole group is written every
    `checkpoint_every` epochs, and training resumes from it when its `fingerprint` matches.
    static_shapes (default: on CUDA) runs the step on fixed-size buffers; cuda_graph then
    captures it in a CUDA graph. Raises FloatingPointError, naming the runs, as soon as an
    epoch's loss is NaN or infinite.
    """
    module, objective, generators = group.module, group.objective, group.generators
    device, n_models, n = store.device, module.n_models, store.n_cells
    static = device.type == "cuda" if static_shapes is None else static_shapes
    # scVI's settings (eps 0.01, weight decay 1e-6), so that runs compare with scvi-tools.
    optimizer = fused_adam(module.parameters(), lr, eps=0.01, weight_decay=1e-6, capturable=device.type == "cuda")
    path = Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir is not None else None
    with sync_allowed(device):
        histories, start = _resume(path, fingerprint, group, optimizer)

    progress = torch.zeros((), device=device)  # share of training done, refilled before each step
    sums: dict[str, torch.Tensor] = {}  # per model: the epoch's running sums over cells

    def step(idx: torch.Tensor) -> None:
        out = module(store.batch(idx, static=static), generators)
        terms = objective(out, progress)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].sum().backward()  # the models are independent: each gets its own loss's gradient
        optimizer.step()
        terms.update(objective.update(out, generators))
        terms["neg_elbo"] = out.recon.mean(-1) + out.kl.mean(-1)
        terms["kl_dims"] = out.kl_dims.mean(-2)
        for key, value in terms.items():
            if key not in sums:
                sums[key] = torch.zeros_like(value, dtype=torch.float32)
            sums[key].add_(value.detach(), alpha=idx.shape[-1])

    static_idx = torch.zeros(n_models, batch_size, dtype=torch.long, device=device) if static else None
    runner = _StepRunner(step, static_idx, generators, cuda_graph and device.type == "cuda")
    steps_per_epoch = math.ceil(n / batch_size)
    for epoch in range(start, epochs):
        module.train()
        tic = time.perf_counter()
        for value in sums.values():
            value.zero_()
        order = torch.stack([torch.randperm(n, generator=g, device=device) for g in generators])
        n_used = 0
        for step_index, idx in enumerate(order.split(batch_size, dim=1)):
            if idx.shape[1] < 2:  # BatchNorm cannot normalise a single cell
                continue
            progress.fill_((epoch + step_index / steps_per_epoch) / epochs)
            runner(idx)
            n_used += idx.shape[1]
        rows = _epoch_rows(sums, n_used, epoch + 1, device)
        seconds = time.perf_counter() - tic
        diverged = [name for name, row in zip(group.names, rows) if not math.isfinite(row["loss"])]
        if diverged:
            loss = next(row["loss"] for row in rows if not math.isfinite(row["loss"]))
            raise FloatingPointError(f"{', '.join(diverged)}: loss became {loss} at epoch {epoch + 1}; "
                                     "try a lower learning rate or a smaller beta")
        for history, row in zip(histories, rows):
            history.append({**row, "seconds": seconds})
        eta = seconds * (epochs - epoch - 1)
        if n_models == 1:
            terms = "  ".join(f"{k} {v:.4g}" for k, v in rows[0].items()
                              if k not in ("epoch", "seconds") and not k.startswith("kl_dim"))
        else:
            terms = "loss " + " ".join(f"{row['loss']:.4g}" for row in rows)
        logger.info("epoch %d/%d  %s  %.2f s/epoch  ETA %s", epoch + 1, epochs, terms, seconds,
                    _format_seconds(eta))
        if path is not None and (epoch + 1) % checkpoint_every == 0 and epoch + 1 < epochs:
            with sync_allowed(device):
                _save_checkpoint(path, fingerprint, epoch + 1, histories, group, optimizer)
    module.eval()
    return [pd.DataFrame(history) for history in histories]
