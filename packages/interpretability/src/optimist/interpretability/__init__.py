"""optimist.interpretability: robust-gradient saliency through captum, measured.

``attribute(model, x, target=None, method="gradient")`` explains the target (default: predicted) logit with one
of :data:`METHODS`; :mod:`optimist.interpretability.metrics` scores maps (alignment, deletion/insertion AUC,
infidelity, max-sensitivity, Gini sparsity). :func:`compare` is the application: several models, the same
images, every method and metric with a random baseline, one :class:`~optimist.core.application.Result` (its
demo and ``optimist interpretability --model L=SPEC ...`` are that same call). :func:`score_maps` is the
lower-level call behind it, returning the maps themselves.
"""

from optimist.core.application import Application
from optimist.interpretability._application import InterpretabilitySettings, compare
from optimist.interpretability.attributions import METHODS, RANDOM, attribute, explanation_function
from optimist.interpretability.compare import Comparison, score_maps
from optimist.interpretability.figures import metric_vs_epsilon, saliency_grid
from optimist.interpretability.ladder import ladder_names
from optimist.interpretability.metrics import (
    DIRECTION,
    METRICS,
    alignment,
    cosine_alignment,
    deletion_auc,
    gini,
    gradient_alignment,
    insertion_auc,
    max_sensitivity,
    relative_infidelity,
)

APPLICATION = Application(
    name="interpretability",
    compare=compare,
    settings=InterpretabilitySettings,
    description="Saliency maps, robust versus standard: captum attributions of each model's prediction on the "
                "same images, scored by alignment, deletion/insertion, infidelity, max-sensitivity and sparsity "
                "against a random-map baseline.",
    demo_models=("fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/linf-0.05",
                 "fashion-mnist/small-cnn/linf-0.1"),
    # a smoke run uses the default pair only (cached with every zoo), not a third model trained for it
    quick_models=("fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/linf-0.1"),
    quick_settings={"n": 12, "steps": 6, "infidelity_samples": 4, "sensitivity_n": 4, "sensitivity_samples": 2,
                    "n_figure": 3, "ig_steps": 4, "smoothgrad_samples": 2},
    tiny_settings={"n": 4, "methods": ["gradient", "smoothgrad"], "steps": 3, "infidelity_samples": 2,
                   "sensitivity_n": 2, "sensitivity_samples": 2, "n_figure": 2, "smoothgrad_samples": 2},
)

__all__ = [
    "APPLICATION", "DIRECTION", "METHODS", "METRICS", "RANDOM", "Comparison", "InterpretabilitySettings",
    "alignment", "attribute", "compare", "cosine_alignment", "deletion_auc", "explanation_function", "gini",
    "gradient_alignment", "insertion_auc", "ladder_names", "max_sensitivity", "metric_vs_epsilon",
    "relative_infidelity", "saliency_grid", "score_maps",
]
