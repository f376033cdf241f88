"""Tools on a trained model and its data, in the manner of `scanpy.tl`."""
from scbeta.programs import gene_programs

__all__ = ["gene_programs"]
