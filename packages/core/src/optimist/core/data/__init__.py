"""Datasets as in-memory tensors in [0, 1] with metadata: ``load_dataset(name, split)``."""

from optimist.core.data.datasets import DatasetNotFoundError, available_datasets, load_dataset
from optimist.core.data.info import DatasetInfo
from optimist.core.data.loaders import make_loader
from optimist.core.data.subsets import k_per_class, subset
from optimist.core.data.tensor_dataset import ImageTensorDataset, from_tensors

__all__ = [
    "DatasetInfo",
    "DatasetNotFoundError",
    "ImageTensorDataset",
    "available_datasets",
    "from_tensors",
    "k_per_class",
    "load_dataset",
    "make_loader",
    "subset",
]
