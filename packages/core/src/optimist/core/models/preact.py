"""PreActResNet-18 (He et al. 2016) in RobustBench's layout: ``conv1``, ``layerK.N.bn1``, ``shortcut.0``, ``linear``.

Two variants exist among published checkpoints: without a batch-norm before the classifier (RobustBench's
default) and with one (``bn``), as in the fast-AT / overfitting papers' code; both are registered.
"""

from __future__ import annotations

import torch
from torch import nn

from optimist.core.models.base import Classifier


class _PreActBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False))
        else:
            self.shortcut = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.relu1(self.bn1(x)))
        out = self.conv2(self.relu2(self.bn2(out)))
        return out + (x if self.shortcut is None else self.shortcut(x))


class _PreActBody(nn.Module):
    def __init__(self, in_channels: int, final_bn: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        planes, layers = 64, []
        for i, width in enumerate((64, 128, 256, 512)):
            stride = 1 if i == 0 else 2
            blocks = [_PreActBlock(planes, width, stride), _PreActBlock(width, width, 1)]
            planes = width
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.bn = nn.BatchNorm2d(512) if final_bn else None
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layer4(self.layer3(self.layer2(self.layer1(self.conv1(x)))))
        if self.bn is not None:
            out = self.relu(self.bn(out))
        return self.pool(out).flatten(1)


class PreActResNet18(Classifier):
    """PreActResNet-18 for 32x32 images (RobustBench layout, no batch-norm before the classifier)."""

    arch = "preact-resnet18"
    final_bn = False

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 32, mean=None, std=None):
        super().__init__(_PreActBody(in_channels, self.final_bn), 512, num_classes, in_channels, image_size,
                         mean, std)


class PreActResNet18BN(PreActResNet18):
    """PreActResNet-18 with batch-norm and ReLU before the classifier (``bn``), for 32x32 images."""

    arch = "preact-resnet18-bn"
    final_bn = True
