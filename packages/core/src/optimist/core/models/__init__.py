"""Model architectures that take images in [0, 1] and expose ``features(x)``; any classifier via :func:`wrap`."""

from optimist.core.models.base import Classifier, Normalize
from optimist.core.models.layout import channels_last, is_channels_last
from optimist.core.models.registry import MODELS, available_models, build_for_dataset, build_model
from optimist.core.models.sources import build_source
from optimist.core.models.wrap import WrappedClassifier, is_classifier, require_classifier, wrap

__all__ = [
    "Classifier", "MODELS", "Normalize", "WrappedClassifier", "available_models", "build_for_dataset",
    "build_model", "build_source", "channels_last", "is_channels_last", "is_classifier", "require_classifier",
    "wrap",
]
