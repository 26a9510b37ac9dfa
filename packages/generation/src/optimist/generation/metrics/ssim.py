"""Structural similarity (Wang et al. 2004) with an 11x11 Gaussian window (sigma 1.5), written in torch.

Used for the ground-truth error of inpainting, super-resolution and inversion. scikit-image is not a
dependency; this follows its ``structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1)`` definition, averaged over the valid (unpadded) window positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from optimist.core.errors import InputError

K1, K2 = 0.01, 0.03


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """A normalised 2-D Gaussian kernel, shape (size, size)."""
    if size < 1 or size % 2 == 0 or sigma <= 0:
        raise InputError(f"window size must be odd and positive and sigma > 0, got size={size}, sigma={sigma}")
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, window: int = 11,
         sigma: float = 1.5) -> torch.Tensor:
    """Per-example SSIM of two (N, C, H, W) image batches (mean over channels and positions); 1 = identical.

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(4, 1, 28, 28)
    >>> [round(v, 2) for v in ssim(x, x).tolist()]
    [1.0, 1.0, 1.0, 1.0]
    """
    if a.shape != b.shape or a.ndim != 4:
        raise InputError(f"a and b must be (N, C, H, W) batches of the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if min(a.shape[-2:]) < window:
        raise InputError(f"images of side {tuple(a.shape[-2:])} are smaller than the {window}x{window} window")
    c = a.shape[1]
    w = gaussian_window(window, sigma).to(a.device)[None, None].repeat(c, 1, 1, 1)
    a, b = a.double(), b.double()

    def blur(t):
        return F.conv2d(t, w, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1).float()


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-example mean squared error of two image batches.

    Examples
    --------
    >>> import torch
    >>> a = torch.zeros(2, 1, 28, 28)
    >>> mse(a, a + 0.5).tolist()
    [0.25, 0.25]
    """
    if a.shape != b.shape:
        raise InputError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return (a - b).flatten(1).pow(2).mean(1)
