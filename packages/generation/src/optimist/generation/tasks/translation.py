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

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> from optimist.generation import Budget
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> images, targets = torch.rand(4, 1, 28, 28), torch.tensor([4, 4, 4, 4])
    >>> result = translate(model, images, targets, budget=Budget(eps=2.0, step_size=0.5, steps=3))
    >>> result.images.shape
    torch.Size([4, 1, 28, 28])
    """
    check_model_input(model, images, "images")
    n = images.shape[0]
    targets = check_labels(target_classes, n, getattr(model, "num_classes", None), "target_classes")
    result = run_task(model, "translation", images, targets, targeted_loss(confidence), budget, targets=targets,
                      settings={"confidence": confidence})
    if source_classes is not None:
        result.extras["source"] = check_labels(source_classes, n, None, "source_classes").cpu()
    return result
