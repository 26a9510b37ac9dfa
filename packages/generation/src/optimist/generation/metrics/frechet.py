"""Fréchet distance between two feature sets, as in FID but in an independent classifier's feature space.

FD = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)). With a few dozen samples in 1024 dimensions
the covariances are singular and the matrix square root is unstable, so features are first projected onto
the top principal components of the real features (:class:`PCAProjection`); the distance is then taken in
that k-dimensional space. Few samples bias FD upward, so compare models only at equal sample counts (the
demo also reports the FD of an equally small set of real images as the floor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from optimist.core.errors import InputError


def _as_2d(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise InputError(f"{name} must be a 2-D array (samples, features), got shape {a.shape}")
    if a.shape[0] < 2:
        raise InputError(f"{name} needs at least 2 samples to estimate a covariance, got {a.shape[0]}")
    return a


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of a (N, D) feature array."""
    f = _as_2d(features, "features")
    return f.mean(0), np.atleast_2d(np.cov(f, rowvar=False))


def frechet_from_stats(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray,
                       eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu_a, cov_a) and N(mu_b, cov_b)."""
    if mu_a.shape != mu_b.shape or cov_a.shape != cov_b.shape:
        raise InputError(f"shape mismatch: means {mu_a.shape} vs {mu_b.shape}, covariances {cov_a.shape} vs "
                         f"{cov_b.shape}")
    diff = mu_a - mu_b
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():  # singular product: regularise both (as pytorch-fid does)
        offset = np.eye(cov_a.shape[0]) * eps
        covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = np.real(covmean)
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean)
    return float(max(value, 0.0))


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two (N, D) feature arrays.

    Examples
    --------
    >>> import numpy as np
    >>> features = np.random.default_rng(0).normal(size=(50, 3))
    >>> round(frechet_distance(features, features), 2), frechet_distance(features, features + 1.0) > 2.9
    (0.0, True)
    """
    a, b = _as_2d(features_a, "features_a"), _as_2d(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise InputError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    return frechet_from_stats(*gaussian_stats(a), *gaussian_stats(b))


@dataclass
class PCAProjection:
    """Projection onto the top ``k`` principal components of a reference feature set."""

    mean: np.ndarray
    components: np.ndarray  # (k, D)
    explained: float  # fraction of the reference variance kept

    @classmethod
    def fit(cls, reference, k: int = 16) -> "PCAProjection":
        ref = _as_2d(reference, "reference")
        if not 1 <= k <= min(ref.shape):
            raise InputError(f"k must be in [1, {min(ref.shape)}] for reference features of shape {ref.shape}, got {k}")
        mean = ref.mean(0)
        _, s, vt = np.linalg.svd(ref - mean, full_matrices=False)
        var = s ** 2
        return cls(mean, vt[:k], float(var[:k].sum() / max(var.sum(), 1e-12)))

    def __call__(self, features) -> np.ndarray:
        f = np.asarray(features, dtype=np.float64)
        if f.ndim != 2 or f.shape[1] != self.components.shape[1]:
            raise InputError(f"features must have shape (N, {self.components.shape[1]}), got {f.shape}")
        return (f - self.mean) @ self.components.T
