"""optimist-core: datasets, models, attacks, robust training, evaluation, checkpoints and the model zoo."""

__version__ = "0.1.0"

from optimist.core.attacks import Threat, deepfool, fgsm, pgd  # noqa: E402
from optimist.core.data import load_dataset  # noqa: E402
from optimist.core.evaluate import EvalResult, robust_accuracy  # noqa: E402
from optimist.core.models import build_model  # noqa: E402

__all__ = [
    "EvalResult",
    "Threat",
    "__version__",
    "build_model",
    "deepfool",
    "fgsm",
    "load_dataset",
    "pgd",
    "robust_accuracy",
]
