"""ResNets built from torchvision's ResNet, with one non-in-place ReLU per use.

torchvision's blocks reuse a single in-place ``ReLU`` module; captum's guided backprop needs every ReLU to be
its own non-in-place module. The blocks below keep torchvision's parameter names, so weights from torchvision,
RobustBench or MadryLab ``robustness`` checkpoints load unchanged.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from optimist.core.models.base import Classifier


class _Basic(BasicBlock):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.relu = nn.ReLU()
        self.relu_out = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu_out(out + identity)


class _Bottleneck(Bottleneck):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.relu = nn.ReLU()
        self.relu2 = nn.ReLU()
        self.relu_out = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu_out(out + identity)


def _torchvision_body(block, layers, in_channels: int, cifar_stem: bool) -> tuple[ResNet, int]:
    net = ResNet(block, layers)
    if cifar_stem:
        net.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    elif in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
    net.relu = nn.ReLU()
    feature_dim = net.fc.in_features
    net.fc = nn.Identity()
    return net, feature_dim


class ResNet18Cifar(Classifier):
    """ResNet-18 with a 3x3 stride-1 stem and no max-pool, for 32x32 (CIFAR) or 28x28 images."""

    arch = "resnet18"

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 32, mean=None, std=None):
        body, dim = _torchvision_body(_Basic, [2, 2, 2, 2], in_channels, cifar_stem=True)
        super().__init__(body, dim, num_classes, in_channels, image_size, mean, std)


class ResNet50Cifar(Classifier):
    """ResNet-50 with a 3x3 stride-1 stem and no max-pool (MadryLab ``cifar_models`` layout), for 32x32 images."""

    arch = "resnet50"

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 32, mean=None, std=None):
        body, dim = _torchvision_body(_Bottleneck, [3, 4, 6, 3], in_channels, cifar_stem=True)
        super().__init__(body, dim, num_classes, in_channels, image_size, mean, std)


class TorchvisionResNet18(Classifier):
    """torchvision's ImageNet ResNet-18 (7x7 stem, max-pool) for 224x224-scale images."""

    arch = "tv-resnet18"

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, image_size: int = 224, mean=None, std=None):
        body, dim = _torchvision_body(_Basic, [2, 2, 2, 2], in_channels, cifar_stem=False)
        super().__init__(body, dim, num_classes, in_channels, image_size, mean, std)


class TorchvisionResNet50(Classifier):
    """torchvision's ImageNet ResNet-50 for 224x224-scale images."""

    arch = "tv-resnet50"

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, image_size: int = 224, mean=None, std=None):
        body, dim = _torchvision_body(_Bottleneck, [3, 4, 6, 3], in_channels, cifar_stem=False)
        super().__init__(body, dim, num_classes, in_channels, image_size, mean, std)
