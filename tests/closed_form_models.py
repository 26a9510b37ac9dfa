"""Models with closed-form answers, shared by the attack and geometry tests."""

import torch
from torch import nn


class Linear(nn.Module):
    """f(x) = w.x + b as two logits [0, f]: class 1 iff f > 0."""

    def __init__(self, w: torch.Tensor, b: float):
        super().__init__()
        self.w = nn.Parameter(w.flatten().clone())
        self.b = nn.Parameter(torch.tensor(float(b)))
        self.num_classes = 2

    def forward(self, x):
        f = x.flatten(1) @ self.w + self.b
        return torch.stack([torch.zeros_like(f), f], 1)
