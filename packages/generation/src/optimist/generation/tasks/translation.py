"""Image-to-image translation (Santurkar et al. 2019): move an image of class A toward class B in an L2 ball."""

from __future__ import annotations

import torch
from torch import nn

from optimist.core.checks import check_labels, check_model_input
from optimist.generation.budgets import TRANSLATION, Budget
from optimist.generation.objectives import targeted_loss
from optimist.generation.result import TaskResult
from optimist.generation.tasks.engine import run_task


def translate(model: nn.Module, images: torch.Tensor, target_classes: torch.Tensor,
              *, budget: Budget = TRANSLATION, source_classes: torch.Tensor | None = None,
              confidence: float | None = None) -> TaskResult:
    """Descend CE toward ``target_classes`` from ``images`` (e.g. shirts toward "coat") within ``budget``.

    ``source_classes`` (the images' own labels) are only recorded, in ``extras["source"]``; ``confidence``
    floors the cross-entropy as in :func:`~optimist.generation.objectives.targeted_loss`.
    """
    check_model_input(model, images, "images")
    n = images.shape[0]
    targets = check_labels(target_classes, n, getattr(model, "num_classes", None), "target_classes")
    result = run_task(model, "translation", images, targets, targeted_loss(confidence), budget, targets=targets,
                      settings={"confidence": confidence})
    if source_classes is not None:
        result.extras["source"] = check_labels(source_classes, n, None, "source_classes").cpu()
    return result
