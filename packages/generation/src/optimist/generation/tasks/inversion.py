"""Representation inversion (Engstrom et al. 2019): find x' whose penultimate representation matches x's.

The objective ||R(x') - R(x)|| / ||R(x)|| is minimised from noise (0.5 + N(0, 1)/20 by default) or from
another image, with an effectively unbounded L2 budget. For a robust model the inversion resembles x.
"""

from __future__ import annotations

import torch
from torch import nn

from optimist.core.checks import check_labels, check_model_input
from optimist.core.errors import InputError
from optimist.core.runtime import evaluating, model_device
from optimist.generation.budgets import INVERSION, Budget
from optimist.generation.objectives import feature_distance, representation
from optimist.generation.result import TaskResult
from optimist.generation.tasks.engine import NO_GRAD_BATCH, run_task


def noise_seeds(n: int, *, shape: tuple[int, int, int] = (1, 28, 28), mean: float = 0.5, std: float = 0.05,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """``mean + std * N(0, 1)`` images, clipped to [0, 1] (Engstrom et al. use 0.5 + N(0, 1)/20).

    Examples
    --------
    >>> import torch
    >>> seeds = noise_seeds(4, generator=torch.Generator().manual_seed(0))
    >>> seeds.shape, bool(((seeds >= 0) & (seeds <= 1)).all())
    (torch.Size([4, 1, 28, 28]), True)
    """
    if n < 0 or std < 0:
        raise InputError(f"n and std must be non-negative, got n={n}, std={std}")
    return (mean + std * torch.randn(n, *shape, generator=generator)).clamp(0, 1)


def invert(model: nn.Module, targets: torch.Tensor, *, seeds: torch.Tensor | None = None, budget: Budget = INVERSION,
           labels: torch.Tensor | None = None, generator: torch.Generator | None = None) -> TaskResult:
    """Match the representation of each image in ``targets`` starting from ``seeds`` (default: noise).

    ``labels`` (the target images' classes, if known) become the result's ``targets`` so an evaluator can
    check the inversions; the target images are its ``reference``.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> from optimist.generation import Budget
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> from optimist.generation import noise_seeds
    >>> targets, seeds = torch.rand(4, 1, 28, 28), noise_seeds(4, generator=torch.Generator().manual_seed(0))
    >>> result = invert(model, targets, seeds=seeds, budget=Budget(eps=float("inf"), step_size=0.1, steps=3))
    >>> result.images.shape
    torch.Size([4, 1, 28, 28])
    """
    check_model_input(model, targets, "targets")
    n = targets.shape[0]
    if seeds is None:
        seeds = noise_seeds(n, shape=tuple(targets.shape[1:]), generator=generator)
    if seeds.shape != targets.shape:
        raise InputError(f"seeds must have the targets' shape {tuple(targets.shape)}, got {tuple(seeds.shape)}")
    if labels is not None:
        labels = check_labels(labels, n, getattr(model, "num_classes", None))
    with evaluating(model), torch.no_grad():
        goal = torch.cat([representation(model, t.to(model_device(model))).cpu()  # bounded: no-grad batches
                          for t in targets.split(NO_GRAD_BATCH)])
    return run_task(model, "inversion", seeds, goal, feature_distance, budget, targets=labels, reference=targets)
