"""Scores of a latent representation against known factors and labels."""
from scbeta.metrics._common import is_categorical
from scbeta.metrics.activity import active_units, kl_per_dim, latent_activity
from scbeta.metrics.clustering import best_ari, identity_accuracy
from scbeta.metrics.correlation import correlation_matrix, max_abs_corr
from scbeta.metrics.disentanglement import dci, explicitness, mig, modularity, sap
from scbeta.metrics.drvi import drvi_scores
from scbeta.metrics.scores import all_scores

__all__ = ["active_units", "kl_per_dim", "latent_activity", "best_ari", "identity_accuracy", "correlation_matrix",
           "max_abs_corr", "is_categorical", "all_scores", "dci", "drvi_scores", "explicitness", "mig", "modularity",
           "sap"]
