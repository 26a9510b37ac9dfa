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

#: Metric name -> how to read it.
METRICS: dict[str, str] = {
    "alignment": "|<x, a>| / ||a||, Etmann et al. 2019 (higher: the map points along the image)",
    "cosine": "|<x, a>| / (||x|| ||a||), cosine form of the alignment (higher is better)",
    "deletion": "deletion AUC, Petsiuk et al. 2018 (lower is better)",
    "insertion": "insertion AUC, Petsiuk et al. 2018 (higher is better)",
    "infidelity": "captum infidelity / mean squared logit change, Yeh et al. 2019 (lower is better)",
    "sensitivity": "captum sensitivity_max, Yeh et al. 2019 (lower: a steadier map)",
    "gini": "Gini index of |a|, Chalasani et al. 2020 (higher: a sparser map)",
}
#: +1 where higher is better, -1 where lower is better, 0 where neither is (sparsity is a description).
DIRECTION: dict[str, int] = {"alignment": 1, "cosine": 1, "deletion": -1, "insertion": 1, "infidelity": -1,
                             "sensitivity": -1, "gini": 0}

__all__ = [
    "DIRECTION",
    "METRICS",
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
