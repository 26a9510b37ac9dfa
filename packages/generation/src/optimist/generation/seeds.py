"""Seeds for class-conditional generation: a multivariate Gaussian per class, fitted to training images.

Santurkar et al. (2019) start PGD from x0 ~ N(mu_y, Sigma_y), the mean and covariance of class y's
training images. For large images the Gaussian is fitted at a reduced resolution (the covariance has
``(C*r*r)^2`` entries) and samples are upsampled. Samples are clipped to [0, 1] before PGD; the raw,
unclipped draws are available to check the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from optimist.core.errors import InputError

MAX_FIT_DIM = 4096  # above this many values per image, fit at a reduced resolution


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    if size < x.shape[-1]:
        return F.interpolate(x, size=(size, size), mode="area")
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


@dataclass
class ClassGaussian:
    """Per-class Gaussians N(mu_c, Sigma_c) over images flattened at ``resolution`` x ``resolution``.

    Build one with :meth:`fit`; draw seeds with :meth:`sample`.
    """

    means: torch.Tensor  # (K, D)
    factors: torch.Tensor  # (K, D, D), Sigma_c = factors[c] @ factors[c].T
    channels: int
    resolution: int
    image_size: int
    classes: tuple[int, ...]

    @classmethod
    def fit(cls, images: torch.Tensor, labels: torch.Tensor, resolution: int | None = None,
            ridge: float = 1e-5, classes: list[int] | None = None) -> "ClassGaussian":
        """Fit a mean and full covariance per class.

        Args:
            images: (N, C, H, W) training images in [0, 1], square.
            labels: (N,) class labels.
            resolution: side length to fit at (default: full size unless C*H*W exceeds 4096, then the
                largest side that fits); samples are upsampled back to the image size.
            ridge: added to the covariance diagonal so the factorisation is stable.
            classes: which classes to fit (default: every label present).
        """
        if images.ndim != 4 or images.shape[-1] != images.shape[-2]:
            raise InputError(f"images must have shape (N, C, H, H), got {tuple(images.shape)}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise InputError(f"labels must be a 1-D tensor with one label per image; got {tuple(labels.shape)} "
                             f"for {len(images)} images")
        c, size = images.shape[1], images.shape[-1]
        if resolution is None:
            resolution = size
            while c * resolution * resolution > MAX_FIT_DIM:
                resolution //= 2
        if not 1 <= resolution <= size:
            raise InputError(f"resolution must be in [1, {size}], got {resolution}")
        classes = sorted(int(k) for k in labels.unique()) if classes is None else [int(k) for k in classes]
        small = _resize(images.float(), resolution).flatten(1).double()
        means, factors = [], []
        for k in classes:
            xk = small[labels == k]
            if len(xk) < 2:
                raise InputError(f"class {k} has {len(xk)} training images; need at least 2 to fit a covariance")
            mu = xk.mean(0)
            centred = xk - mu
            cov = centred.T @ centred / (len(xk) - 1)
            evals, evecs = torch.linalg.eigh(cov)
            factor = evecs * (evals.clamp_min(0) + ridge).sqrt()
            means.append(mu.float())
            factors.append(factor.float())
        return cls(torch.stack(means), torch.stack(factors), c, resolution, size, tuple(classes))

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def covariance(self, k: int) -> torch.Tensor:
        """The fitted covariance of class ``k`` (ridge included), at the fit resolution."""
        f = self.factors[self._index(k)].double()
        return (f @ f.T).float()

    def mean(self, k: int) -> torch.Tensor:
        return self.means[self._index(k)]

    def _index(self, k: int) -> int:
        if int(k) not in self.classes:
            raise InputError(f"class {k} was not fitted; fitted classes: {list(self.classes)}")
        return self.classes.index(int(k))

    def sample_raw(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Unclipped draws at the fit resolution, (N, D): one per label."""
        labels = torch.as_tensor(labels).long().flatten()
        idx = [self._index(k) for k in labels.tolist()]
        z = torch.randn(len(labels), self.dim, generator=generator)
        out = torch.empty(len(labels), self.dim)
        for i in set(idx):
            rows = torch.tensor([j for j, v in enumerate(idx) if v == i], dtype=torch.long)
            out[rows] = self.means[i] + z[rows] @ self.factors[i].T
        return out

    def sample(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Seed images for ``labels``: (N, C, image_size, image_size), clipped to [0, 1]."""
        raw = self.sample_raw(labels, generator)
        x = raw.view(-1, self.channels, self.resolution, self.resolution)
        return _resize(x, self.image_size).clamp(0, 1)


def class_labels(classes: list[int] | tuple[int, ...], per_class: int) -> torch.Tensor:
    """``per_class`` copies of each class, grouped: [0, 0, 1, 1, ...]."""
    if per_class < 1:
        raise InputError(f"per_class must be >= 1, got {per_class}")
    return torch.tensor(list(classes)).repeat_interleave(per_class)
