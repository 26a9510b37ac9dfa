"""Subsets of datasets: a seeded random sample, a set of classes, or k examples per class."""

from __future__ import annotations

from typing import Sequence

import torch
from torch.utils.data import Dataset

from optimist.core.data.tensor_dataset import ImageTensorDataset
from optimist.core.errors import InputError


def _as_tensor_dataset(dataset: Dataset) -> ImageTensorDataset:
    if isinstance(dataset, ImageTensorDataset):
        return dataset
    raise TypeError(
        f"subsets need an in-memory dataset (ImageTensorDataset), got {type(dataset).__name__}; "
        "use torch.utils.data.Subset for folder datasets"
    )


def subset(dataset: Dataset, n: int | None = None, seed: int = 0, classes: Sequence[int] | None = None,
           relabel: bool = True) -> ImageTensorDataset:
    """A seeded random subset of at most ``n`` examples, optionally restricted to ``classes``.

    With ``classes`` and ``relabel=True`` the labels become 0..len(classes)-1 in the order given and the
    metadata's class names follow, so the result is a proper smaller classification problem.
    """
    ds = _as_tensor_dataset(dataset)
    images, targets, info = ds.images, ds.targets, ds.info
    if classes is not None:
        classes = [int(c) for c in classes]
        bad = [c for c in classes if not 0 <= c < info.num_classes]
        if bad or len(set(classes)) != len(classes):
            raise InputError(f"classes must be distinct labels in [0, {info.num_classes}), got {classes}")
        keep = torch.isin(targets, torch.tensor(classes))
        images, targets = images[keep], targets[keep]
        if relabel:
            mapping = torch.full((info.num_classes,), -1, dtype=torch.long)
            mapping[torch.tensor(classes)] = torch.arange(len(classes))
            targets = mapping[targets]
            info = info.with_classes(tuple(info.class_names[c] for c in classes))
    if n is not None and n < len(targets):
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(targets), generator=g)[:n].sort().values
        images, targets = images[idx], targets[idx]
    return ImageTensorDataset(images, targets, info)


def k_per_class(dataset: Dataset, k: int, seed: int = 0) -> ImageTensorDataset:
    """Exactly ``k`` examples of every class (seeded); raises if a class has fewer than ``k``."""
    ds = _as_tensor_dataset(dataset)
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in range(ds.info.num_classes):
        idx = (ds.targets == c).nonzero().flatten()
        if len(idx) < k:
            raise InputError(f"class {c} ({ds.info.class_names[c]}) has {len(idx)} examples, fewer than k={k}")
        picks.append(idx[torch.randperm(len(idx), generator=g)[:k]])
    idx = torch.cat(picks).sort().values
    return ImageTensorDataset(ds.images[idx], ds.targets[idx], ds.info)
