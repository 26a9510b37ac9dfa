"""Build any registered architecture by name."""

from __future__ import annotations

from typing import Sequence

from optimist.core.errors import InputError
from optimist.core.models.base import Classifier
from optimist.core.models.convnets import MLP, LeNet, SmallCNN, WideCNN
from optimist.core.models.preact import PreActResNet18, PreActResNet18BN
from optimist.core.models.resnets import ResNet18Cifar, ResNet50Cifar, TorchvisionResNet18, TorchvisionResNet50
from optimist.core.models.wideresnet import WRN_28_10, WRN_34_10, WRN_70_16

MODELS: dict[str, type[Classifier]] = {
    cls.arch: cls for cls in (SmallCNN, WideCNN, LeNet, MLP, ResNet18Cifar, ResNet50Cifar, PreActResNet18,
                              PreActResNet18BN, WRN_28_10, WRN_34_10, WRN_70_16, TorchvisionResNet18,
                              TorchvisionResNet50)
}


def available_models() -> tuple[str, ...]:
    return tuple(MODELS)


def build_model(name: str, num_classes: int = 10, in_channels: int = 1, image_size: int = 28,
                mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> Classifier:
    """Instantiate architecture ``name`` (see :func:`available_models`) for images in [0, 1].

    ``mean``/``std`` are the per-channel normalisation the model applies internally (default 0.5/0.5).

    Examples
    --------
    >>> import torch
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> model(torch.rand(4, 1, 28, 28)).shape
    torch.Size([4, 10])
    """
    if name not in MODELS:
        raise InputError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    if num_classes < 1 or in_channels < 1 or image_size < 4:
        raise InputError(f"bad model shape: num_classes={num_classes}, in_channels={in_channels}, "
                         f"image_size={image_size}")
    return MODELS[name](num_classes=num_classes, in_channels=in_channels, image_size=image_size, mean=mean, std=std)


def build_for_dataset(name: str, info) -> Classifier:
    """An architecture sized and normalised for a dataset's :class:`~optimist.core.data.DatasetInfo`."""
    return build_model(name, info.num_classes, info.channels, info.image_size, info.mean or None, info.std or None)
