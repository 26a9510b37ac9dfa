"""Small convolutional networks for 28x28-scale images (Fashion-MNIST, MNIST, digits)."""

from __future__ import annotations

from torch import nn

from optimist.core.models.base import Classifier


def _flat_size(image_size: int, pools: int) -> int:
    for _ in range(pools):
        image_size //= 2
    return image_size


class SmallCNN(Classifier):
    """Fast default: two conv blocks and a 128-unit hidden layer (an epoch of Fashion-MNIST in seconds on a CPU)."""

    arch = "small-cnn"
    width = 1

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28, mean=None, std=None):
        s, w = _flat_size(image_size, 2), self.width
        body = nn.Sequential(
            nn.Conv2d(in_channels, 16 * w, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16 * w, 32 * w, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * w * s * s, 128 * w), nn.ReLU(),
        )
        super().__init__(body, 128 * w, num_classes, in_channels, image_size, mean, std)


class WideCNN(SmallCNN):
    """The small CNN at twice the width (32 and 64 channels, 256 features): more capacity at ~1.7x the cost."""

    arch = "wide-cnn"
    width = 2


class LeNet(Classifier):
    """The MNIST-challenge convnet of Madry et al.: conv 32 and 64 (5x5, max-pool) and a 1024-unit layer."""

    arch = "lenet"

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28, mean=None, std=None):
        s = _flat_size(image_size, 2)
        body = nn.Sequential(
            nn.Conv2d(in_channels, 32, 5, padding=2), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * s * s, 1024), nn.ReLU(),
        )
        super().__init__(body, 1024, num_classes, in_channels, image_size, mean, std)


class MLP(Classifier):
    """A two-layer perceptron; handy in tests and as a deliberately different evaluator architecture."""

    arch = "mlp"

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28, mean=None, std=None,
                 hidden: int = 256):
        body = nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size * image_size, hidden), nn.ReLU())
        super().__init__(body, hidden, num_classes, in_channels, image_size, mean, std)
