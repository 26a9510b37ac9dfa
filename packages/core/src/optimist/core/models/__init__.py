"""Model architectures that take images in [0, 1] and expose ``features(x)``; any classifier via :func:`wrap`."""

from optimist.core.models.base import Classifier, Normalize
from optimist.core.models.layout import channels_last, is_channels_last
from optimist.core.models.registry import MODELS, available_models, build_for_dataset, build_model
from optimist.core.models.specs import ModelSpecError, resolve
from optimist.core.models.wrap import WrapError, WrappedClassifier, is_classifier, require_classifier, wrap

__all__ = [
    "Classifier", "MODELS", "ModelSpecError", "Normalize", "WrapError", "WrappedClassifier", "available_models",
    "build_for_dataset", "build_model", "channels_last", "is_channels_last", "is_classifier", "require_classifier",
    "resolve", "wrap",
]
