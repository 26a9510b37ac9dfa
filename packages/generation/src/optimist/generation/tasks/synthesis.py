"""Class-conditional generation (Santurkar et al. 2019): targeted L2 PGD toward class y from a class seed."""

from __future__ import annotations

import torch
from torch import nn

from optimist.core.checks import check_labels, check_model_input
from optimist.generation.budgets import GENERATION, Budget
from optimist.generation.objectives import targeted_loss
from optimist.generation.result import TaskResult
from optimist.generation.tasks.engine import run_task


def generate(model: nn.Module, seeds: torch.Tensor, targets: torch.Tensor, *, budget: Budget = GENERATION,
             confidence: float | None = None) -> TaskResult:
    """Push each seed toward its target class by minimising the model's cross-entropy within ``budget``.

    ``seeds`` are usually draws of :class:`~optimist.generation.seeds.ClassGaussian` for ``targets``;
    pass the same seeds to every model to compare them. With ``confidence``, an image stops changing once
    the model gives its target that probability (see :func:`~optimist.generation.objectives.targeted_loss`).

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> from optimist.generation import Budget
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> seeds, targets = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    >>> result = generate(model, seeds, targets, budget=Budget(eps=2.0, step_size=0.5, steps=3))
    >>> result.task, result.images.shape
    ('class-generation', torch.Size([4, 1, 28, 28]))
    """
    check_model_input(model, seeds, "seeds")
    targets = check_labels(targets, seeds.shape[0], getattr(model, "num_classes", None), "targets")
    return run_task(model, "class-generation", seeds, targets, targeted_loss(confidence), budget, targets=targets,
                    settings={"confidence": confidence})
