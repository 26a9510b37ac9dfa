"""Attacks: a :class:`Threat`, one PGD engine (custom objectives welcome), FGSM and DeepFool."""

from optimist.core.attacks.deepfool import DeepFoolResult, deepfool
from optimist.core.attacks.objectives import Objective, cross_entropy, margin_loss
from optimist.core.attacks.pgd import fgsm, frozen, pgd
from optimist.core.attacks.threat import NORMS, Threat, as_threat

__all__ = [
    "NORMS",
    "DeepFoolResult",
    "Objective",
    "Threat",
    "as_threat",
    "cross_entropy",
    "deepfool",
    "fgsm",
    "frozen",
    "margin_loss",
    "pgd",
]
