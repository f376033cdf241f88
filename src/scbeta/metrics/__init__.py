"""Scores of a latent representation against known factors and labels."""
from scbeta.metrics.correlation import correlation_matrix, max_abs_corr

__all__ = ["correlation_matrix", "max_abs_corr"]
