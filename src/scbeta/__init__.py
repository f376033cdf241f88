"""scbeta: disentangled scVI-style variational autoencoders for single-cell RNA-seq."""
import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("scbeta")
except PackageNotFoundError:  # running from a source checkout that is not installed
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from scbeta import data, metrics, simulate, tl
    from scbeta.model import Model, fit, fit_many, load

__all__ = ["Model", "fit", "fit_many", "load", "data", "metrics", "simulate", "tl", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported on first use: torch (the model API), scikit-learn and scipy.stats (metrics) and
    # anndata take seconds to import, and each workflow job pays only for what it uses.
    if name in ("data", "metrics", "simulate", "tl"):
        return importlib.import_module(f"scbeta.{name}")
    if name in ("Model", "fit", "fit_many", "load"):
        from scbeta import model

        return getattr(model, name)
    raise AttributeError(f"module 'scbeta' has no attribute {name!r}")
