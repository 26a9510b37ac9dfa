"""Wide residual networks (Zagoruyko & Komodakis) in the layout RobustBench's CIFAR checkpoints use.

Parameter names follow RobustBench's ``WideResNet`` (``conv1``, ``block1.layer.N.bn1`` ..., ``bn1``, ``fc``), so
most CIFAR-10 L-inf leaderboard entries load unchanged. Pre-activation blocks: a block whose width changes
applies its first batch-norm and ReLU to the input before both the 1x1 shortcut and the residual branch; a
block of constant width adds the raw input. Every ReLU is its own non-in-place module (captum needs that).
"""

from __future__ import annotations

import torch
from torch import nn

from optimist.core.errors import InputError
from optimist.core.models.base import Classifier


class _WideBlock(nn.Module):
    def __init__(self, in_planes: int, out_planes: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, stride=1, padding=1, bias=False)
        self.same_width = in_planes == out_planes
        self.convShortcut = None if self.same_width else nn.Conv2d(in_planes, out_planes, 1, stride=stride,
                                                                   bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = self.relu1(self.bn1(x))
        out = self.conv2(self.relu2(self.bn2(self.conv1(act))))
        return out + (x if self.same_width else self.convShortcut(act))


class _Stage(nn.Module):
    """``n`` blocks under the attribute name ``layer`` (RobustBench's ``NetworkBlock``)."""

    def __init__(self, n: int, in_planes: int, out_planes: int, stride: int):
        super().__init__()
        self.layer = nn.Sequential(*[_WideBlock(in_planes if i == 0 else out_planes, out_planes,
                                                stride if i == 0 else 1) for i in range(n)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


class _WideBody(nn.Module):
    def __init__(self, depth: int, width: int, in_channels: int):
        super().__init__()
        if (depth - 4) % 6:
            raise InputError(f"a WideResNet depth must be 6n + 4 (16, 22, 28, 34, 40, 70, ...), got {depth}")
        n = (depth - 4) // 6
        ch = [16, 16 * width, 32 * width, 64 * width]
        self.conv1 = nn.Conv2d(in_channels, ch[0], 3, stride=1, padding=1, bias=False)
        self.block1 = _Stage(n, ch[0], ch[1], 1)
        self.block2 = _Stage(n, ch[1], ch[2], 2)
        self.block3 = _Stage(n, ch[2], ch[3], 2)
        self.bn1 = nn.BatchNorm2d(ch[3])
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_dim = ch[3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        return self.pool(self.relu(self.bn1(out))).flatten(1)


class WideResNet(Classifier):
    """WideResNet-depth-width for 32x32 images (RobustBench layout); subclasses fix depth and width."""

    arch = "wrn"
    depth = 28
    width = 10

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 32, mean=None, std=None):
        body = _WideBody(self.depth, self.width, in_channels)
        super().__init__(body, body.out_dim, num_classes, in_channels, image_size, mean, std)


def _preset(depth: int, width: int) -> type[WideResNet]:
    doc = f"WideResNet-{depth}-{width} (RobustBench layout), for 32x32 images."
    return type(f"WideResNet{depth}x{width}", (WideResNet,),
                {"arch": f"wrn-{depth}-{width}", "depth": depth, "width": width, "__doc__": doc})


WRN_28_10 = _preset(28, 10)
WRN_34_10 = _preset(34, 10)
WRN_70_16 = _preset(70, 16)
