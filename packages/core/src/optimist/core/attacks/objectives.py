"""Per-example objectives for the PGD engine, and the signature custom ones follow.

An objective is ``objective(model, x, y) -> loss`` with one value per example. PGD ascends it (or descends
it with ``targeted=True``). ``y`` is whatever the objective needs: labels, target features, a mask...

The *label losses* below are functions of ``(logits, y)`` (or ``(logits, y, target)`` for the pair losses)
that the engine knows by name; with them it also knows which examples are fooled.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from optimist.core.errors import InputError

Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
LabelLoss = Callable[..., torch.Tensor]
DLR_EPS = 1e-12


def ce_of_logits(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example cross-entropy of ``logits`` against labels ``y``."""
    return F.cross_entropy(logits, y, reduction="none")


def _true_and_best_other(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.scatter(1, y[:, None], float("-inf"))
    return true, other.amax(1)


def margin_of_logits(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Carlini-Wagner margin: the best other logit minus the one of class ``y`` (positive once it is beaten).

    Unlike cross-entropy it does not saturate on confident examples, so it finds adversarial examples that
    cross-entropy PGD misses; with ``targeted=True`` descending it lifts class ``y`` above all others.
    """
    true, best_other = _true_and_best_other(logits, y)
    return best_other - true


def _need_classes(logits: torch.Tensor, k: int, name: str) -> None:
    if logits.shape[1] < k:
        raise InputError(f"the {name} loss needs at least {k} classes, the model has {logits.shape[1]}; "
                         "use loss='margin' or 'ce' instead")


def dlr_of_logits(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Difference of logits ratio (Croce & Hein 2020): ``(max_{i!=y} z_i - z_y) / (z_pi1 - z_pi3)``.

    ``pi`` sorts the logits in decreasing order. The margin divided by a spread of the top logits: invariant
    to shifting and rescaling the logits, so neither a temperature nor saturated softmax hides the margin.
    Positive once ``y`` is beaten. Needs at least 3 classes.
    """
    _need_classes(logits, 3, "dlr")
    top = logits.topk(3, dim=1).values
    true, best_other = _true_and_best_other(logits, y)
    return (best_other - true) / (top[:, 0] - top[:, 2] + DLR_EPS)


def targeted_dlr_of_logits(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Targeted DLR: ``(z_t - z_y) / (z_pi1 - (z_pi3 + z_pi4) / 2)``; ascending it moves ``y`` toward ``t``.

    Positive once the target's logit beats the label's. Needs at least 4 classes.
    """
    _need_classes(logits, 4, "dlr-targeted")
    top = logits.topk(4, dim=1).values
    true = logits.gather(1, y[:, None]).squeeze(1)
    tgt = logits.gather(1, target[:, None]).squeeze(1)
    return (tgt - true) / (top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + DLR_EPS)


def targeted_margin_of_logits(logits: torch.Tensor, y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``z_t - z_y``: the margin toward one chosen wrong class (the targeted Carlini-Wagner/MM loss)."""
    true = logits.gather(1, y[:, None]).squeeze(1)
    return logits.gather(1, target[:, None]).squeeze(1) - true


LABEL_LOSSES: dict[str, LabelLoss] = {
    "ce": ce_of_logits,
    "margin": margin_of_logits,
    "dlr": dlr_of_logits,
    "dlr-targeted": targeted_dlr_of_logits,
    "margin-targeted": targeted_margin_of_logits,
}
"""Losses of (logits, labels[, target]) the engine knows by name; with them it also knows who is fooled."""

PAIR_LOSSES = ("dlr-targeted", "margin-targeted")
"""Label losses that also take a target class per example (``pgd(..., target=t)``)."""


def label_loss(name: str) -> LabelLoss:
    """The label loss called ``name`` in :data:`LABEL_LOSSES`; a clear error for any other name."""
    if name not in LABEL_LOSSES:
        raise InputError(f"unknown loss {name!r}; choose one of {', '.join(LABEL_LOSSES)} or pass an objective")
    return LABEL_LOSSES[name]


def cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the model's logits at ``x`` against labels ``y``; the default objective."""
    return ce_of_logits(model(x), y)


def margin_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The margin of :func:`margin_of_logits` at ``x`` as an objective."""
    return margin_of_logits(model(x), y)


def dlr_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The DLR of :func:`dlr_of_logits` at ``x`` as an objective."""
    return dlr_of_logits(model(x), y)
