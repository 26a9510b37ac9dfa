"""The classifier contract every Optimist model follows.

Models take images in [0, 1]; the dataset's normalisation is a module inside the model, so attacks,
saliency and generation never see normalised tensors. ``features(x)`` is the penultimate representation
and ``forward(x) == head(features(x))``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from optimist.core.errors import InputError


class Normalize(nn.Module):
    """Per-channel (x - mean) / std, stored as buffers so checkpoints carry it."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Classifier(nn.Module):
    """Normalisation, a feature extractor ``body`` ending in a vector, and a linear ``head``."""

    arch: str = "classifier"

    def __init__(self, body: nn.Module, feature_dim: int, num_classes: int, in_channels: int, image_size: int,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None):
        super().__init__()
        mean = list(mean) if mean else [0.5] * in_channels
        std = list(std) if std else [0.5] * in_channels
        if len(mean) != in_channels or len(std) != in_channels:
            raise InputError(f"mean/std need {in_channels} values (one per channel), got {mean} / {std}")
        self.normalize = Normalize(mean, std)
        self.body = body
        self.head = nn.Linear(feature_dim, num_classes)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.image_size = image_size
        self.feature_dim = feature_dim

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate representation of images ``x`` in [0, 1], shape (N, feature_dim)."""
        return self.body(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def config(self) -> dict:
        """What :func:`build_model` needs to rebuild this architecture."""
        return {
            "arch": self.arch,
            "num_classes": self.num_classes,
            "in_channels": self.in_channels,
            "image_size": self.image_size,
            "mean": self.normalize.mean.flatten().tolist(),
            "std": self.normalize.std.flatten().tolist(),
        }
