"""An in-memory image dataset: fast to index, batch and subset on a CPU."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from optimist.core.data.info import DatasetInfo
from optimist.core.errors import (
    DataSpecError,
    ImageDTypeError,
    ImageRangeError,
    ImageShapeError,
    InputError,
    LabelError,
)


class ImageTensorDataset(Dataset):
    """Float images in [0, 1] of shape (N, C, H, W) with integer labels and a :class:`DatasetInfo`."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, info: DatasetInfo):
        if images.ndim != 4:
            raise InputError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
        if len(images) != len(targets):
            raise InputError(f"{len(images)} images but {len(targets)} labels")
        self.images = images.float().contiguous()
        self.targets = targets.long().contiguous()
        self.info = info

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.targets[index])

    def __repr__(self) -> str:
        return f"ImageTensorDataset({self.info.name!r}, n={len(self)}, shape={tuple(self.images.shape[1:])})"

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All images and labels as two tensors."""
        return self.images, self.targets


def from_tensors(images, labels, *, name: str = "tensors", class_names: tuple[str, ...] | None = None,
                 source: str = "tensors") -> ImageTensorDataset:
    """Validate ``(images, labels)`` and wrap them: float images (N, C, H, W) in [0, 1], integer labels (N,)."""
    images = torch.as_tensor(np.asarray(images)) if not isinstance(images, torch.Tensor) else images
    labels = torch.as_tensor(np.asarray(labels)) if not isinstance(labels, torch.Tensor) else labels
    if images.ndim == 3:
        raise ImageShapeError(f"{source}: images have shape {tuple(images.shape)}; add the channel axis "
                            "(N, C, H, W), e.g. images[:, None] for grey images")
    if images.ndim != 4:
        raise ImageShapeError(f"{source}: images must have shape (N, C, H, W), got {tuple(images.shape)}")
    if images.shape[1] not in (1, 3) and images.shape[-1] in (1, 3):
        raise ImageShapeError(f"{source}: images look channels-last {tuple(images.shape)}; permute to (N, C, H, W)")
    if not images.is_floating_point():
        raise ImageDTypeError(f"{source}: images must be floats in [0, 1], got dtype {images.dtype} "
                            "(divide uint8 images by 255)")
    if images.numel() and (torch.isnan(images).any() or images.min() < 0 or images.max() > 1):
        raise ImageRangeError(f"{source}: images must lie in [0, 1], got range [{images.min().item():.3g}, "
                            f"{images.max().item():.3g}]; pass un-normalised images (x / 255 for 8-bit)")
    if labels.ndim != 1 or labels.is_floating_point() or labels.dtype == torch.bool:
        raise LabelError(f"{source}: labels must be a 1-D integer array, got dtype {labels.dtype} "
                            f"and shape {tuple(labels.shape)}")
    if len(labels) != len(images):
        raise LabelError(f"{source}: {len(images)} images but {len(labels)} labels")
    if len(labels) == 0:
        raise DataSpecError(f"{source}: holds no images")
    if labels.min() < 0:
        raise LabelError(f"{source}: labels must be >= 0, got {labels.min().item()}")
    k = int(labels.max()) + 1
    names = tuple(class_names) if class_names else tuple(str(i) for i in range(k))
    if len(names) < k:
        raise LabelError(f"{source}: labels reach {k - 1} but only {len(names)} class names are given")
    c, h = images.shape[1], images.shape[-1]
    info = DatasetInfo(name, names, c, h, (0.5,) * c, (0.5,) * c)
    return ImageTensorDataset(images.float(), labels.long(), info)
