"""Per-example objectives for the PGD engine, and the signature custom ones follow.

An objective is ``objective(model, x, y) -> loss`` with one value per example. PGD ascends it (or descends
it with ``targeted=True``). ``y`` is whatever the objective needs: labels, target features, a mask...
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def ce_of_logits(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example cross-entropy of ``logits`` against labels ``y``."""
    return F.cross_entropy(logits, y, reduction="none")


def margin_of_logits(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Carlini-Wagner margin: the best other logit minus the one of class ``y`` (positive once it is beaten).

    Unlike cross-entropy it does not saturate on confident examples, so it finds adversarial examples that
    cross-entropy PGD misses; with ``targeted=True`` descending it lifts class ``y`` above all others.
    """
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.scatter(1, y[:, None], float("-inf"))
    return other.amax(1) - true


LABEL_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "ce": ce_of_logits,
    "margin": margin_of_logits,
}
"""Losses of (logits, labels) the engine knows by name; with them it also knows which examples are fooled."""


def label_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The label loss called ``name`` in :data:`LABEL_LOSSES`; a clear error for any other name."""
    if name not in LABEL_LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LABEL_LOSSES)} or pass an objective")
    return LABEL_LOSSES[name]


def cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the model's logits at ``x`` against labels ``y``; the default objective."""
    return ce_of_logits(model(x), y)


def margin_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The margin of :func:`margin_of_logits` at ``x`` as an objective."""
    return margin_of_logits(model(x), y)
