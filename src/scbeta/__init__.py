"""scbeta: disentangled scVI-style variational autoencoders for single-cell RNA-seq."""
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("scbeta")
except PackageNotFoundError:  # running from a source checkout that is not installed
    __version__ = "0.0.0+unknown"

from scbeta import data, metrics, simulate, tl  # noqa: E402

__all__ = ["Model", "fit", "fit_many", "load", "data", "metrics", "simulate", "tl", "__version__"]


def __getattr__(name: str) -> Any:
    # The model API needs torch, which takes a second to import; jobs that only score,
    # plot or simulate never pay for it.
    if name in ("Model", "fit", "fit_many", "load"):
        from scbeta import model

        return getattr(model, name)
    raise AttributeError(f"module 'scbeta' has no attribute {name!r}")
