"""Attacks: a :class:`Threat`, one PGD engine (custom objectives welcome; fixed or APGD step schedule), FGSM,
DeepFool and a gradient-free Square-style search."""

from optimist.core.attacks.deepfool import DeepFoolResult, deepfool
from optimist.core.attacks.objectives import Objective, cross_entropy, dlr_loss, margin_loss
from optimist.core.attacks.pgd import PGDSettings, fgsm, frozen, pgd
from optimist.core.attacks.square import square
from optimist.core.attacks.threat import NORMS, Threat, as_threat, training_threat

__all__ = [
    "NORMS",
    "DeepFoolResult",
    "Objective",
    "PGDSettings",
    "Threat",
    "as_threat",
    "cross_entropy",
    "deepfool",
    "dlr_loss",
    "fgsm",
    "frozen",
    "margin_loss",
    "pgd",
    "square",
    "training_threat",
]
