"""One function per workflow rule: read the rule's inputs, call the package, write its outputs.

The modules mirror `workflow/rules/`: `simulate`, `data`, `train`, `evaluate`, `programs`,
`figures` and `report` hold the functions of the rules in the `.smk` file of the same name. Each
function takes the rule's named inputs, outputs and params as keywords (see `rule_args`) and a
`log` path that receives the package's log lines. Snakemake scripts in `workflow/scripts/` are
one call each, e.g. `data.prepare_kang2018(**rule_args(snakemake))`.

This module holds what every step shares; it imports neither torch nor the modules above, so a
job loads only its own step.
"""
from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scbeta import __version__

logger = logging.getLogger("scbeta")

__all__ = ["rule_args", "limit_threads", "logged", "logger"]


def rule_args(smk: Any) -> dict[str, Any]:
    """The named inputs, outputs and params of a Snakemake job, its log and threads, as one dict."""
    args: dict[str, Any] = {}
    for namedlist in (smk.input, smk.output, smk.params):
        args.update(dict(namedlist.items()))
    args["log"] = smk.log[0] if len(smk.log) else None
    args["threads"] = smk.threads
    return args


def limit_threads(threads: int) -> None:
    """Let torch, BLAS and OpenMP in this process use at most `threads` threads (the job's share of the cores)."""
    from threadpoolctl import threadpool_limits

    threads = max(1, int(threads))
    # torch reads OMP_NUM_THREADS when it is first imported; set it too where it already is.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    threadpool_limits(limits=threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def logged(step: Callable[..., None]) -> Callable[..., None]:
    """Send the `scbeta` logger to the file `log` (and stderr) while `step` runs; log its duration.

    The step runs with at most `threads` threads (see `limit_threads`).
    """

    @functools.wraps(step)
    def wrapper(*, log: str | None = None, threads: int = 1, **kwargs: Any) -> None:
        handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
        if log is not None:
            Path(log).parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(log, mode="w"))
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
        for handler in handlers:
            handler.setFormatter(formatter)
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        limit_threads(threads)
        tic = time.perf_counter()
        logger.info("scbeta %s: %s", __version__, step.__name__)
        try:
            step(**kwargs)
        except Exception:
            logger.exception("%s failed", step.__name__)
            raise
        finally:
            for handler in handlers:
                logger.removeHandler(handler)
                handler.close()
        logger.info("%s done in %.1f s", step.__name__, time.perf_counter() - tic)

    return wrapper
