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


def cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the model's logits at ``x`` against labels ``y``; the default objective."""
    return F.cross_entropy(model(x), y, reduction="none")


def margin_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Carlini-Wagner margin: the best other logit minus the true one (positive once misclassified)."""
    logits = model(x)
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.clone()
    other.scatter_(1, y[:, None], float("-inf"))
    return other.amax(1) - true
