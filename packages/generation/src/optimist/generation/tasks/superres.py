"""Super-resolution (Santurkar et al. 2019): upsample, then targeted PGD toward the class in a small L2 ball."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from optimist.core.checks import check_images, check_labels
from optimist.core.errors import InputError
from optimist.generation.budgets import SUPER_RESOLUTION, Budget
from optimist.generation.objectives import targeted_loss
from optimist.generation.result import TaskResult
from optimist.generation.tasks.engine import run_task


def downsample(images: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """Average-pool by ``factor`` (28x28 -> 7x7 at 4): the low-resolution input.

    Examples
    --------
    >>> import torch
    >>> downsample(torch.rand(4, 1, 28, 28), factor=4).shape
    torch.Size([4, 1, 7, 7])
    """
    if factor < 1 or images.shape[-1] % factor or images.shape[-2] % factor:
        raise InputError(f"factor must be a positive divisor of the image size {tuple(images.shape[-2:])}, "
                         f"got {factor}")
    return F.avg_pool2d(images, factor)


def upsample(low_res: torch.Tensor, size: int, mode: str = "bilinear") -> torch.Tensor:
    """Interpolate to ``size`` x ``size`` (the PGD seed and the baseline the task must beat)."""
    if mode not in ("bilinear", "bicubic", "nearest"):
        raise InputError(f"mode must be bilinear, bicubic or nearest, got {mode!r}")
    kw = {} if mode == "nearest" else {"align_corners": False}
    return F.interpolate(low_res, size=(size, size), mode=mode, **kw).clamp(0, 1)


def super_resolve(model: nn.Module, low_res: torch.Tensor, labels: torch.Tensor, *, size: int | None = None,
                  budget: Budget = SUPER_RESOLUTION, ground_truth: torch.Tensor | None = None,
                  mode: str = "bilinear", confidence: float | None = None) -> TaskResult:
    """Upsample ``low_res`` to ``size`` (default: the model's input size), then descend CE toward ``labels``.

    ``ground_truth`` (the high-resolution originals, if known) is stored as the result's reference;
    ``confidence`` floors the cross-entropy as in :func:`~optimist.generation.objectives.targeted_loss`.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> from optimist.generation import Budget
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> from optimist.generation import downsample
    >>> low_res, labels = downsample(torch.rand(4, 1, 28, 28)), torch.tensor([0, 1, 2, 3])
    >>> result = super_resolve(model, low_res, labels, budget=Budget(eps=2.0, step_size=0.5, steps=3))
    >>> result.task, result.images.shape
    ('super-resolution', torch.Size([4, 1, 28, 28]))
    """
    check_images(low_res, "low_res")
    labels = check_labels(labels, low_res.shape[0], getattr(model, "num_classes", None))
    size = size or getattr(model, "image_size", None)
    if not size or size < low_res.shape[-1]:
        raise InputError(f"size must be at least the low-resolution side {low_res.shape[-1]}, got {size}")
    if ground_truth is not None and (ground_truth.shape[0] != low_res.shape[0] or ground_truth.shape[-1] != size):
        raise InputError(f"ground_truth must be {low_res.shape[0]} images of side {size}, "
                         f"got {tuple(ground_truth.shape)}")
    seeds = upsample(low_res, size, mode)
    return run_task(model, "super-resolution", seeds, labels, targeted_loss(confidence), budget, targets=labels,
                    reference=ground_truth, settings={"low_resolution": low_res.shape[-1], "size": size,
                                                      "upsampling": mode, "confidence": confidence})
