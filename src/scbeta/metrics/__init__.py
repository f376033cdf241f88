"""Scores of a latent representation against known factors and labels."""
from scbeta.metrics.activity import active_units, kl_per_dim, latent_activity
from scbeta.metrics.clustering import best_ari, identity_accuracy
from scbeta.metrics.correlation import correlation_matrix, max_abs_corr
from scbeta.metrics.disentanglement import all_scores, dci, drvi_scores, explicitness, mig, modularity, sap

__all__ = ["active_units", "kl_per_dim", "latent_activity", "best_ari", "identity_accuracy", "correlation_matrix",
           "max_abs_corr", "all_scores", "dci", "drvi_scores", "explicitness", "mig", "modularity", "sap"]
