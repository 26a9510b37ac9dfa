"""Sparsity of a saliency map: the Gini index of its absolute values.

Hurley & Rickard, "Comparing Measures of Sparsity", IEEE Trans. Inf. Theory 2009; used for attributions
by Chalasani et al., "Concise Explanations of Neural Networks using Adversarial Training", ICML 2020.
With c₁ ≤ … ≤ c_d the sorted values of |a|:

    G(a) = 1 − 2 Σ_k (c_k / ‖c‖₁) · (d − k + ½) / d

G = 0 when every pixel gets the same weight and approaches 1 when one pixel carries all of it. A
Gaussian random map scores about 0.41.
"""

from __future__ import annotations

import torch

from optimist.core.errors import InputError


def gini(attributions: torch.Tensor) -> torch.Tensor:
    """Per-example Gini index of |attributions| over all pixels and channels (0 for an all-zero map).

    Examples
    --------
    >>> import torch
    >>> one_pixel = torch.zeros(1, 1, 28, 28)
    >>> one_pixel[0, 0, 14, 14] = 1.0
    >>> [round(g, 2) for g in gini(torch.cat([one_pixel, torch.ones(1, 1, 28, 28)])).tolist()]
    [1.0, 0.0]
    """
    if attributions.ndim < 2:
        raise InputError(f"attributions need a batch dimension, got shape {tuple(attributions.shape)}")
    c = attributions.reshape(len(attributions), -1).abs().double().sort(dim=1).values
    d = c.shape[1]
    total = c.sum(1, keepdim=True)
    k = torch.arange(1, d + 1, dtype=torch.float64, device=c.device)
    weights = (d - k + 0.5) / d
    g = 1 - 2 * ((c / total.clamp_min(1e-300)) * weights).sum(1)
    return torch.where(total.squeeze(1) > 0, g, torch.zeros_like(g)).float()
