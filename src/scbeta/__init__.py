"""scbeta: disentangled scVI-style variational autoencoders for single-cell RNA-seq."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("scbeta")
except PackageNotFoundError:  # running from a source checkout that is not installed
    __version__ = "0.0.0+unknown"

from scbeta import data, metrics, simulate  # noqa: E402
from scbeta.model import Model, fit, load  # noqa: E402

__all__ = ["Model", "fit", "load", "data", "metrics", "simulate", "__version__"]
