"""captum's infidelity and max-sensitivity (Yeh et al., "On the (In)fidelity and Sensitivity of
Explanations", NeurIPS 2019), with a perturbation suited to images in [0, 1].

*Infidelity* asks whether the map predicts how the explained logit changes under a random perturbation
I: INFD = E_I[(aᵀI − (f(x) − f(x − I)))²]. We draw I ~ N(0, σ²) per pixel (clipped so that x − I stays
an image) and use captum's ``normalize=True`` (the map rescaled by its best factor β), then divide by
E_I[(f(x) − f(x − I))²]. The result, ``1 − (uncentred correlation)²`` between predicted and actual
changes, is in [0, 1] and comparable across models whose logits differ in scale: 0 is a perfect
first-order account, about 1 a map with no signal. Lower is better.

*Max-sensitivity* is how much the map itself moves when x moves a little:
SENS = max_{‖δ‖∞ ≤ r} ‖a(x + δ) − a(x)‖ / ‖a(x)‖ over random δ (captum's ``sensitivity_max``). Lower
is more stable.
"""

from __future__ import annotations

from typing import Callable

import torch
from captum.metrics import infidelity, sensitivity_max
from torch import nn

from optimist.core.attacks import frozen
from optimist.core.checks import check_images, check_model_input
from optimist.core.errors import InputError
from optimist.interpretability.metrics._checks import check_maps


def _batch(x: torch.Tensor, n_perturb_samples: int, requested: int | None) -> int:
    """captum wants ``len(x) <= max_examples_per_batch <= len(x) * n_perturb_samples`` (None: all at once)."""
    full = len(x) * n_perturb_samples
    return full if requested is None else min(max(requested, len(x)), full)


def gaussian_perturbation(sigma: float = 0.1, seed: int = 0) -> Callable:
    """A captum ``perturb_func``: returns ``(I, x − I)`` with Gaussian I, clipped to keep x − I in [0, 1].

    The generator is seeded once, so two infidelity runs built from equal arguments see equal noise.
    """
    g = torch.Generator().manual_seed(seed)

    def perturb(inputs: torch.Tensor):
        noise = torch.randn(inputs.shape, generator=g).to(inputs) * sigma
        perturbed = (inputs - noise).clamp(0, 1)
        return inputs - perturbed, perturbed

    return perturb


@torch.no_grad()
def output_change(model: nn.Module, x: torch.Tensor, target: torch.Tensor, sigma: float = 0.1,
                  n_perturb_samples: int = 16, seed: int = 0, max_examples_per_batch: int = 1024) -> torch.Tensor:
    """Per-example E_I[(f(x) − f(x − I))²] under :func:`gaussian_perturbation` (infidelity of a zero map)."""
    max_examples_per_batch = _batch(x, n_perturb_samples, max_examples_per_batch)
    with frozen(model):
        return infidelity(model, gaussian_perturbation(sigma, seed), x, torch.zeros_like(x), target=target,
                          n_perturb_samples=n_perturb_samples, max_examples_per_batch=max_examples_per_batch,
                          normalize=False)


@torch.no_grad()
def relative_infidelity(model: nn.Module, x: torch.Tensor, attributions: torch.Tensor, target: torch.Tensor,
                        *, sigma: float = 0.1, n_perturb_samples: int = 16, seed: int = 0,
                        max_examples_per_batch: int = 1024, change: torch.Tensor | None = None) -> torch.Tensor:
    """Per-example infidelity (captum, ``normalize=True``) divided by the mean squared logit change.

    Definition in the module docstring; lower is better, about 1 means the map explains nothing.
    ``change`` may pass a precomputed :func:`output_change` with the same settings (it depends on the
    model and images, not on the map).

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    >>> maps = torch.randn(4, 1, 28, 28)
    >>> relative_infidelity(model, x, maps, y, n_perturb_samples=2).shape
    torch.Size([4])
    """
    check_model_input(model, x)
    check_maps(attributions, x)
    if x.shape != attributions.shape:
        raise InputError(f"images {tuple(x.shape)} and attributions {tuple(attributions.shape)} differ in shape")
    max_examples_per_batch = _batch(x, n_perturb_samples, max_examples_per_batch)
    with frozen(model):
        infd = infidelity(model, gaussian_perturbation(sigma, seed), x, attributions, target=target,
                          n_perturb_samples=n_perturb_samples, max_examples_per_batch=max_examples_per_batch,
                          normalize=True)
    if change is None:
        change = output_change(model, x, target, sigma, n_perturb_samples, seed, max_examples_per_batch)
    return (infd / change.clamp_min(1e-12)).clamp(0, 1)


def max_sensitivity(explain: Callable[..., torch.Tensor], x: torch.Tensor, target: torch.Tensor,
                    *, radius: float = 0.02, n_perturb_samples: int = 8,
                    max_examples_per_batch: int | None = None) -> torch.Tensor:
    """Per-example captum ``sensitivity_max`` of ``explain(inputs, target=...)`` within an L∞ ball of
    ``radius`` (captum's uniform perturbation), relative to the unperturbed map's Frobenius norm.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> from optimist.interpretability import explanation_function
    >>> explain = explanation_function(model, "gradient")
    >>> x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    >>> max_sensitivity(explain, x, y, n_perturb_samples=2).shape
    torch.Size([4])
    """
    check_images(x)
    return sensitivity_max(explain, x, perturb_radius=radius, n_perturb_samples=n_perturb_samples,
                           max_examples_per_batch=_batch(x, n_perturb_samples, max_examples_per_batch),
                           target=target)
