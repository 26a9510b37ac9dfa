"""Model architectures that take images in [0, 1] and expose ``features(x)``."""

from optimist.core.models.base import Classifier, Normalize
from optimist.core.models.layout import channels_last, is_channels_last
from optimist.core.models.registry import MODELS, available_models, build_for_dataset, build_model

__all__ = [
    "Classifier", "MODELS", "Normalize", "available_models", "build_for_dataset", "build_model", "channels_last",
    "is_channels_last",
]
