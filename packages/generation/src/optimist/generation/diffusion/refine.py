"""BIGRoC (Ganz & Elad, arXiv 2108.03702): refine finished samples with a few targeted PGD steps on a robust
classifier. A robust model's gradient adds class-specific, perceptually aligned detail; a standard model's
would add invisible adversarial noise. Uses Optimist's one PGD engine (targeted cross-entropy)."""

from __future__ import annotations

import torch
from torch import nn

from optimist.core.attacks import Threat, pgd
from optimist.core.errors import InputError
from optimist.core.runtime import evaluating, model_device


class BigrocRefiner:
    """``refiner(images, labels)``: targeted L2 PGD of ``steps`` steps within ``eps`` toward ``labels``."""

    def __init__(self, classifier: nn.Module, eps: float = 1.0, steps: int = 5, norm: str = "l2"):
        if eps <= 0 or steps < 1:
            raise InputError(f"eps must be > 0 and steps >= 1, got eps={eps}, steps={steps}")
        self.classifier = classifier
        self.threat = Threat(norm, eps)
        self.steps = steps

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return bigroc_refine(self.classifier, images, labels, self.threat, self.steps)


def bigroc_refine(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                  threat: Threat | str = "l2:1.0", steps: int = 5) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] moved toward ``labels`` by targeted PGD on ``classifier``."""
    device = model_device(classifier)
    with evaluating(classifier):  # batch-norm statistics must not move; the caller's mode comes back
        out = pgd(classifier, images.to(device), labels.to(device), threat, steps=steps, random_start=False,
                  targeted=True)
    return out.cpu()
