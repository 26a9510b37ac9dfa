"""Alignment of a saliency map with the image it explains (Etmann et al. 2019).

Etmann, Lunz, Maass, Schönlieb, "On the Connection Between Adversarial Robustness and Saliency Map
Interpretability", ICML 2019. With ``g = ∇ₓ z_y(x)`` the gradient of the logit of class ``y``:

    alignment α(x) = |⟨x, g⟩| / ‖g‖₂            (a length, in pixel units)
    cosine form    |⟨x, g⟩| / (‖x‖₂ ‖g‖₂)       (in [0, 1])

For a bias-free linear binary classifier z(x) = ⟨w, x⟩, α(x) = |⟨w, x⟩| / ‖w‖ is exactly the distance
from x to the decision boundary; robust models, whose inputs lie far from the boundary, have gradients
that point along the image. Both functions accept any attribution map in place of ``g``.
"""

from __future__ import annotations

import torch
from torch import nn

from optimist.core.errors import InputError
from optimist.interpretability.attributions import _attribute

_TINY = 1e-12


def _flat_pair(x: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if x.shape != a.shape:
        raise InputError(f"images and attributions must have the same shape, got {tuple(x.shape)} and "
                         f"{tuple(a.shape)}")
    return x.reshape(len(x), -1).double(), a.reshape(len(a), -1).double()


def alignment(x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Per-example α = |⟨x, g⟩| / ‖g‖₂ (Etmann et al. 2019, Def. 1); 0 where g = 0.

    Examples
    --------
    >>> import torch
    >>> x, grad = torch.rand(4, 1, 28, 28), torch.randn(4, 1, 28, 28)
    >>> alignment(x, grad).shape
    torch.Size([4])
    """
    xf, gf = _flat_pair(x, grad)
    return ((xf * gf).sum(1).abs() / gf.norm(dim=1).clamp_min(_TINY)).float()


def cosine_alignment(x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Per-example |⟨x, g⟩| / (‖x‖₂ ‖g‖₂): the alignment normalised by the image's norm, in [0, 1].

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(4, 1, 28, 28)
    >>> cosine = cosine_alignment(x, 2 * x)
    >>> cosine.shape, bool(torch.allclose(cosine, torch.ones(4)))
    (torch.Size([4]), True)
    """
    xf, gf = _flat_pair(x, grad)
    return ((xf * gf).sum(1).abs() / (xf.norm(dim=1) * gf.norm(dim=1)).clamp_min(_TINY)).float()


def gradient_alignment(model: nn.Module, x: torch.Tensor, target=None) -> dict[str, torch.Tensor]:
    """Alignment and cosine alignment of the model's logit gradient, per example and their means.

    ``target`` is the class whose logit is differentiated (default: the predicted class). Returns
    ``{"alignment", "cosine"}`` per-example tensors and ``{"mean_alignment", "mean_cosine"}`` scalars.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> scores = gradient_alignment(model, torch.rand(4, 1, 28, 28))
    >>> sorted(scores), scores["alignment"].shape
    (['alignment', 'cosine', 'mean_alignment', 'mean_cosine'], torch.Size([4]))
    """
    g = _attribute(model, x, target, "gradient", 256, {})  # any inputs: the closed forms use centred ones
    a, c = alignment(x, g), cosine_alignment(x, g)
    return {"alignment": a, "cosine": c, "mean_alignment": a.mean(), "mean_cosine": c.mean()}
