"""Saliency-map metrics: alignment, deletion/insertion AUC, infidelity, max-sensitivity, sparsity."""

from optimist.interpretability.metrics.alignment import alignment, cosine_alignment, gradient_alignment
from optimist.interpretability.metrics.deletion import (
    curve_auc,
    deletion_auc,
    insertion_auc,
    perturbation_curve,
    pixel_ranking,
)
from optimist.interpretability.metrics.fidelity import (
    gaussian_perturbation,
    max_sensitivity,
    output_change,
    relative_infidelity,
)
from optimist.interpretability.metrics.sparsity import gini

__all__ = [
    "alignment",
    "cosine_alignment",
    "curve_auc",
    "deletion_auc",
    "gaussian_perturbation",
    "gini",
    "gradient_alignment",
    "insertion_auc",
    "max_sensitivity",
    "output_change",
    "perturbation_curve",
    "pixel_ranking",
    "relative_infidelity",
]
