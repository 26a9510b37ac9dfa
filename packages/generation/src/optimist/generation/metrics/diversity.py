"""Per-class diversity: mean pairwise L2 distance between the features of samples of the same class.

Mode collapse (every seed pushed to the same prototype) shows as a low value; compare with real images.
"""

from __future__ import annotations

import torch

from optimist.core.errors import InputError


def pairwise_diversity(features: torch.Tensor) -> float:
    """Mean L2 distance over distinct pairs of rows of ``features`` (N, D); NaN for fewer than 2 rows."""
    if features.ndim != 2:
        raise InputError(f"features must be (N, D), got shape {tuple(features.shape)}")
    n = features.shape[0]
    if n < 2:
        return float("nan")
    d = torch.cdist(features.double(), features.double())
    return float(d.sum() / (n * (n - 1)))


def class_diversity(features: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over classes (with at least 2 samples) of the within-class pairwise feature distance."""
    if labels.ndim != 1 or len(labels) != features.shape[0]:
        raise InputError(f"labels must be 1-D with {features.shape[0]} entries, got shape {tuple(labels.shape)}")
    values = [pairwise_diversity(features[labels == k]) for k in labels.unique().tolist()
              if int((labels == k).sum()) >= 2]
    return float(sum(values) / len(values)) if values else float("nan")
