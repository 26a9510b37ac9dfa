"""Batches from a dataset: a DataLoader, or a fast slicing iterator for in-memory tensors."""

from __future__ import annotations

from typing import Iterable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from optimist.core.data.tensor_dataset import ImageTensorDataset, from_tensors


class _TensorBatches:
    """Iterate (x, y) batches of an in-memory dataset by slicing; far cheaper than per-item collation."""

    def __init__(self, ds: ImageTensorDataset, batch_size: int, shuffle: bool, generator: torch.Generator | None):
        # ``dataset`` as on a DataLoader, so code that inspects loaders finds it
        self.dataset, self.batch_size, self.shuffle, self.generator = ds, batch_size, shuffle, generator

    def __len__(self) -> int:
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.dataset)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                sl = slice(start, start + self.batch_size)
                yield self.dataset.images[sl], self.dataset.targets[sl]
            else:
                idx = order[start:start + self.batch_size]
                yield self.dataset.images[idx], self.dataset.targets[idx]


def make_loader(data: Dataset | Iterable, batch_size: int = 256, shuffle: bool = False,
                generator: torch.Generator | None = None) -> Iterable:
    """(x, y) batches from a dataset or an ``(images, labels)`` pair of tensors (validated as a data spec would
    be); an existing loader or iterable of batches is passed through."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        data = from_tensors(data[0], data[1])
    if isinstance(data, ImageTensorDataset):
        return _TensorBatches(data, batch_size, shuffle, generator)
    if isinstance(data, Dataset):
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)
    return data
