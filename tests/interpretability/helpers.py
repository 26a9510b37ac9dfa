"""Small models with known answers for the interpretability tests."""

from __future__ import annotations

import torch
from torch import nn


class Linear(nn.Module):
    """A bias-free linear classifier on flattened images: logits = W x."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(x))


def binary_linear(d: int, seed: int = 0) -> tuple[Linear, torch.Tensor]:
    """Two logits (z, -z) with z = <w, x>: a bias-free binary linear classifier, and its w."""
    w = torch.randn(d, generator=torch.Generator().manual_seed(seed))
    return Linear(torch.stack([w, -w])).eval(), w


def images(n: int = 8, size: int = 28, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed))
