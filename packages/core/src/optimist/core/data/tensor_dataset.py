"""An in-memory image dataset: fast to index, batch and subset on a CPU."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from optimist.core.data.info import DatasetInfo


class ImageTensorDataset(Dataset):
    """Float images in [0, 1] of shape (N, C, H, W) with integer labels and a :class:`DatasetInfo`."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, info: DatasetInfo):
        if images.ndim != 4:
            raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} labels")
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
