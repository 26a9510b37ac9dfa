"""Judges that are not neural networks: a nearest-neighbour classifier and a realism score, in pixel space.

Both look only at a bank of real images that neither fitted the class seeds nor fed a task (held-out
training images). :meth:`PixelJudge.knn_correct` asks a k-nearest-neighbour classifier (scikit-learn,
Euclidean distance on raw pixels) whether an image shows its target class. :meth:`PixelJudge.realism` is the
distance from an image to the nearest bank image of its target class, divided by the median of the same
distance for real test images of that class: about 1 for a real image, far above 1 for noise or texture.
Neither judge can be fooled by a pattern that fools a network, which is the point.
"""

from __future__ import annotations

import numpy as np
import torch

from optimist.core.checks import check_images
from optimist.core.errors import InputError

KNN_K = 5


def _flat(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().flatten(1).double().numpy()


class PixelJudge:
    """A k-NN classifier and a nearest-same-class-image distance over ``bank`` (real images, held out).

    ``real_images`` (real test images, disjoint from the bank) set each class's typical nearest-neighbour
    distance, the realism score's unit.
    """

    def __init__(self, bank: torch.Tensor, bank_labels: torch.Tensor, real_images: torch.Tensor,
                 real_labels: torch.Tensor, *, k: int = KNN_K):
        from sklearn.neighbors import KNeighborsClassifier

        check_images(bank, "bank")
        check_images(real_images, "real_images")
        if bank_labels.ndim != 1 or len(bank_labels) != len(bank):
            raise InputError(f"bank_labels must be 1-D with one label per bank image, got {tuple(bank_labels.shape)}")
        if real_labels.ndim != 1 or len(real_labels) != len(real_images):
            raise InputError(f"real_labels must be 1-D with one label per real image, got {tuple(real_labels.shape)}")
        if not 1 <= k <= len(bank):
            raise InputError(f"k must be in [1, {len(bank)}] (the bank's size), got {k}")
        self.k = k
        self.bank = _flat(bank)
        self.bank_labels = bank_labels.long().numpy()
        self.knn = KNeighborsClassifier(n_neighbors=k).fit(self.bank, self.bank_labels)
        self.classes = sorted(set(self.bank_labels.tolist()))
        real_d = self.nearest_distance(real_images, real_labels)
        labels = real_labels.long().numpy()
        self.scale = {}
        for c in self.classes:
            d = real_d[labels == c]
            if len(d) == 0:
                raise InputError(f"no real image of class {c} to set its realism scale; pass real images of "
                                 "every class in the bank")
            self.scale[c] = float(np.median(d))

    def nearest_distance(self, x: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
        """Per image: the L2 distance to the nearest bank image of class ``labels[i]``."""
        check_images(x, "images")
        flat, labels = _flat(x), labels.long().numpy()
        out = np.full(len(flat), np.nan)
        for c in np.unique(labels):
            pool = self.bank[self.bank_labels == c]
            if len(pool) == 0:
                raise InputError(f"the bank has no image of class {c}")
            rows = labels == c
            q = flat[rows]
            d2 = (q ** 2).sum(1)[:, None] + (pool ** 2).sum(1)[None, :] - 2 * q @ pool.T
            out[rows] = np.sqrt(np.clip(d2.min(1), 0, None))
        return out

    def knn_correct(self, x: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
        """Per image: 1.0 where the k-NN classifier names class ``labels[i]``, else 0.0."""
        check_images(x, "images")
        return (self.knn.predict(_flat(x)) == labels.long().numpy()).astype(float)

    def realism(self, x: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
        """Per image: nearest same-class bank distance over real test images' median one (lower is more real)."""
        d = self.nearest_distance(x, labels)
        return d / np.array([self.scale[int(c)] for c in labels.long().tolist()])


__all__ = ["KNN_K", "PixelJudge"]
