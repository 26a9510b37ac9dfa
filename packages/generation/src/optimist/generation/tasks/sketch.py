"""Sketch-to-image (Santurkar et al. 2019): from a line drawing, targeted PGD toward its class in an L2 ball.

The sketches here are edge maps of real test images (:func:`edge_map`: Sobel gradient magnitude, each image
scaled to a maximum of 1), so the ground truth is known and the result can be scored against it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from optimist.core.checks import check_images, check_labels, check_model_input
from optimist.core.errors import InputError
from optimist.generation.budgets import SKETCH, Budget
from optimist.generation.objectives import targeted_loss
from optimist.generation.result import TaskResult
from optimist.generation.tasks.engine import run_task


def edge_map(images: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude of each channel, each image divided by its maximum: white outlines on black
    (all zeros for a flat image).

    Examples
    --------
    >>> import torch
    >>> edges = edge_map(torch.rand(4, 1, 28, 28))
    >>> edges.shape, bool(((edges >= 0) & (edges <= 1)).all())
    (torch.Size([4, 1, 28, 28]), True)
    """
    check_images(images, "images")
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernel = torch.stack([kx, kx.T]).unsqueeze(1).to(images)  # (2, 1, 3, 3)
    c = images.shape[1]
    flat = images.reshape(-1, 1, *images.shape[-2:])
    g = F.conv2d(F.pad(flat, (1, 1, 1, 1), mode="replicate"), kernel)
    mag = g.pow(2).sum(1, keepdim=True).sqrt().reshape(images.shape[0], c, *images.shape[-2:])
    peak = mag.flatten(1).amax(1).view(-1, 1, 1, 1)
    flat_image = peak < 1e-4  # rounding noise, not an edge: a flat image has an empty sketch
    return torch.where(flat_image, torch.zeros_like(mag), mag / peak.clamp_min(1e-4)).clamp(0, 1)


def sketch_to_image(model: nn.Module, sketches: torch.Tensor, labels: torch.Tensor, *, budget: Budget = SKETCH,
                    ground_truth: torch.Tensor | None = None, confidence: float | None = None) -> TaskResult:
    """Descend the cross-entropy toward ``labels`` from ``sketches`` within ``budget``.

    ``ground_truth`` (the images the sketches were drawn from, if known) becomes the result's reference.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> from optimist.generation import Budget
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> from optimist.generation import edge_map
    >>> sketches, labels = edge_map(torch.rand(4, 1, 28, 28)), torch.tensor([0, 1, 2, 3])
    >>> result = sketch_to_image(model, sketches, labels, budget=Budget(eps=2.0, step_size=0.5, steps=3))
    >>> result.images.shape
    torch.Size([4, 1, 28, 28])
    """
    check_model_input(model, sketches, "sketches")
    labels = check_labels(labels, sketches.shape[0], getattr(model, "num_classes", None))
    if ground_truth is not None and ground_truth.shape != sketches.shape:
        raise InputError(f"ground_truth must have the sketches' shape {tuple(sketches.shape)}, "
                         f"got {tuple(ground_truth.shape)}")
    return run_task(model, "sketch-to-image", sketches, labels, targeted_loss(confidence), budget, targets=labels,
                    reference=ground_truth, settings={"confidence": confidence})
