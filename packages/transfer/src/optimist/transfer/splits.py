"""Transfer targets and label splits: the Fashion-MNIST 5/5 split, digits, any dataset, and k-shot sampling.

A :class:`Target` is a named pair of train/test datasets. The Fashion-MNIST split keeps the classes the
transfer sources never saw (5-9, relabelled 0-4); :func:`check_disjoint` guards that. Few-shot subsets are
drawn as indices into the training labels, so the same k images are used for every source model (the
comparison between sources is paired).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from optimist.core.data import k_per_class, load_dataset, subset
from optimist.core.errors import InputError

SOURCE_CLASSES: tuple[int, ...] = (0, 1, 2, 3, 4)
TARGET_CLASSES: tuple[int, ...] = (5, 6, 7, 8, 9)
FASHION_SPLIT = "fashion-mnist-5to9"
TARGETS = (FASHION_SPLIT, "digits")


@dataclass
class Target:
    """A transfer target: a name and its training and test datasets (each with ``.info`` and labels)."""

    name: str
    train: Dataset
    test: Dataset

    @property
    def num_classes(self) -> int:
        return num_classes_of(self.train)

    def describe(self) -> str:
        return (f"{self.name}: {self.num_classes} classes, {len(self.train)} training and {len(self.test)} "
                "test images")


def labels_of(dataset: Dataset) -> np.ndarray:
    """Integer labels of a dataset (``.targets`` of Optimist and torchvision datasets) as a numpy array."""
    if isinstance(dataset, Subset):
        return labels_of(dataset.dataset)[np.asarray(dataset.indices, dtype=np.int64)]
    targets = getattr(dataset, "targets", None)
    if targets is None:
        raise InputError(f"{type(dataset).__name__} has no .targets; wrap it so labels can be read without "
                         "loading every image")
    return torch.as_tensor(targets).long().numpy()


def num_classes_of(dataset: Dataset) -> int:
    """Classes of a dataset: from ``.info``, else torchvision's ``.classes``, else the largest label + 1."""
    info = getattr(dataset, "info", None)
    if info is not None:
        return info.num_classes
    classes = getattr(dataset, "classes", None) or getattr(getattr(dataset, "dataset", None), "classes", None)
    if classes:
        return len(classes)
    return int(labels_of(dataset).max()) + 1


def check_disjoint(source_classes: Sequence[int], target_classes: Sequence[int]) -> None:
    """Raise ``ValueError`` unless the source and target class sets are non-empty and share no class."""
    src, tgt = set(int(c) for c in source_classes), set(int(c) for c in target_classes)
    if not src or not tgt:
        raise InputError("source and target class sets must both be non-empty")
    shared = sorted(src & tgt)
    if shared:
        raise InputError(f"source and target share classes {shared}: the target would not be new to the source")


def _cap_per_class(ds, per_class: int | None, seed: int):
    if per_class is None:
        return ds
    if per_class < 1:
        raise InputError(f"per-class cap must be >= 1, got {per_class}")
    smallest = int(np.bincount(labels_of(ds), minlength=ds.info.num_classes).min())
    return k_per_class(ds, min(per_class, smallest), seed=seed)


def fashion_split(source_classes: Sequence[int] = SOURCE_CLASSES, target_classes: Sequence[int] = TARGET_CLASSES,
                  train_per_class: int | None = None, test_per_class: int | None = None, seed: int = 0,
                  root=None) -> Target:
    """Fashion-MNIST restricted to ``target_classes`` (relabelled 0..k-1); sources train on ``source_classes``.

    ``train_per_class``/``test_per_class`` cap the pools (seeded, balanced) to keep demos fast.

    Examples
    --------
    >>> # skipped when run as a doctest: needs Fashion-MNIST on disk
    >>> target = fashion_split(train_per_class=10, test_per_class=10)  # doctest: +SKIP
    """
    check_disjoint(source_classes, target_classes)
    train = subset(load_dataset("fashion-mnist", "train", root=root), classes=list(target_classes))
    test = subset(load_dataset("fashion-mnist", "test", root=root), classes=list(target_classes))
    name = FASHION_SPLIT if tuple(target_classes) == TARGET_CLASSES else \
        "fashion-mnist-" + "-".join(str(c) for c in target_classes)
    return Target(name, _cap_per_class(train, train_per_class, seed), _cap_per_class(test, test_per_class, seed))


def digits_target(image_size: int = 28, train_per_class: int | None = None,
                  test_per_class: int | None = None, seed: int = 0) -> Target:
    """scikit-learn's 8x8 digits, resized to ``image_size`` (core's fixed 70/30 stratified split).

    Examples
    --------
    >>> # skipped when run as a doctest: loads and resizes scikit-learn's digits (about a second)
    >>> target = digits_target(image_size=28, train_per_class=5)  # doctest: +SKIP
    """
    train = load_dataset("digits", "train", image_size=image_size)
    test = load_dataset("digits", "test", image_size=image_size)
    return Target("digits", _cap_per_class(train, train_per_class, seed), _cap_per_class(test, test_per_class, seed))


def dataset_target(name: str, train: Dataset, test: Dataset) -> Target:
    """Any pair of labelled image datasets: Optimist's, torchvision's or an ImageFolder.

    Each must expose ``.targets`` and yield ``(image, label)`` with the image a (C, H, W) tensor in [0, 1]
    (for torchvision datasets pass ``transform=ToTensor()``). Channels and size are adapted to each source
    model when features are extracted.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.data import from_tensors
    >>> from optimist.core.models import build_model
    >>> toy = from_tensors(torch.rand(8, 1, 28, 28), torch.arange(8) % 2, name="toy")
    >>> dataset_target("toy", toy, toy)
    Target(name='toy', train=ImageTensorDataset('toy', n=8, shape=(1, 28, 28)), test=...)
    """
    for split, ds in (("train", train), ("test", test)):
        if len(ds) == 0:
            raise InputError(f"the {split} dataset is empty")
        labels_of(ds)
    n_train, n_test = num_classes_of(train), num_classes_of(test)
    if n_train != n_test:
        raise InputError(f"train has {n_train} classes but test has {n_test}")
    return Target(name, train, test)


def folder_target(root, image_size: int = 28, name: str | None = None) -> Target:
    """Your own images: ``root/train/<class>/*`` and ``root/test/<class>/*`` (torchvision ImageFolder).

    Examples
    --------
    >>> # skipped when run as a doctest: needs a folder of images, root/train/<class>/* and root/test/<class>/*
    >>> target = folder_target("~/my-images", image_size=28)  # doctest: +SKIP
    """
    from pathlib import Path

    train = load_dataset("imagefolder", "train", root=root, image_size=image_size)
    test = load_dataset("imagefolder", "test", root=root, image_size=image_size)
    return dataset_target(name or Path(root).name, train, test)


def load_target(name: str, **kwargs) -> Target:
    """A shipped target by name: ``"fashion-mnist-5to9"`` or ``"digits"`` (keyword arguments pass through).

    Examples
    --------
    >>> # skipped when run as a doctest: loads the shipped target's images (seconds)
    >>> target = load_target("digits")  # doctest: +SKIP
    """
    if name == FASHION_SPLIT:
        return fashion_split(**kwargs)
    if name == "digits":
        return digits_target(**kwargs)
    raise InputError(f"unknown target {name!r}; shipped targets: {', '.join(TARGETS)} "
                     "(use dataset_target or folder_target for your own data)")


def k_shot_indices(labels: Sequence[int] | np.ndarray, k: int, *, seed: int = 0,
                   num_classes: int | None = None) -> np.ndarray:
    """Sorted indices of exactly ``k`` examples of every class, the same for the same ``seed``.

    Raises ``ValueError`` if ``k < 1`` or a class has fewer than ``k`` examples.

    Examples
    --------
    >>> k_shot_indices([0, 1, 0, 1, 2, 2, 0], k=1).tolist()
    [3, 5, 6]
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise InputError(f"labels must be 1-D, got shape {labels.shape}")
    if int(k) != k or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}")
    n_cls = int(num_classes if num_classes is not None else labels.max() + 1)
    rng = np.random.default_rng(seed)
    picks = []
    for c in range(n_cls):
        idx = np.flatnonzero(labels == c)
        if len(idx) < k:
            raise InputError(f"class {c} has {len(idx)} examples, fewer than k={k}")
        picks.append(rng.choice(idx, size=int(k), replace=False))
    return np.sort(np.concatenate(picks))
