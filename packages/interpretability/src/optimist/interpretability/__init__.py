"""optimist.interpretability: robust-gradient saliency through captum, measured.

``attribute(model, x, target=None, method="gradient")`` explains the target (default: predicted) logit
with one of :data:`METHODS`; :mod:`optimist.interpretability.metrics` scores maps (alignment,
deletion/insertion AUC, infidelity, max-sensitivity, Gini sparsity); :func:`compare` runs every
(model, method, metric) with a random baseline and returns tables and figures.
"""

from optimist.interpretability.attributions import (
    METHODS,
    RANDOM,
    attribute,
    explanation_function,
    predicted_class,
    random_attribution,
)
from optimist.interpretability.compare import DEFAULT_METHODS, DIRECTION, METRICS, Comparison, compare
from optimist.interpretability.figures import metric_vs_epsilon, saliency_grid
from optimist.interpretability.ladder import display_name, ladder_names, training_epsilon
from optimist.interpretability.metrics import (
    alignment,
    cosine_alignment,
    deletion_auc,
    gini,
    gradient_alignment,
    insertion_auc,
    max_sensitivity,
    perturbation_curve,
    relative_infidelity,
)
from optimist.interpretability.stats import mean_ci, paired_differences

__all__ = [
    "DEFAULT_METHODS",
    "DIRECTION",
    "METHODS",
    "METRICS",
    "RANDOM",
    "Comparison",
    "alignment",
    "attribute",
    "compare",
    "cosine_alignment",
    "deletion_auc",
    "display_name",
    "explanation_function",
    "gini",
    "gradient_alignment",
    "insertion_auc",
    "ladder_names",
    "max_sensitivity",
    "mean_ci",
    "metric_vs_epsilon",
    "paired_differences",
    "perturbation_curve",
    "predicted_class",
    "random_attribution",
    "relative_infidelity",
    "saliency_grid",
    "training_epsilon",
]
