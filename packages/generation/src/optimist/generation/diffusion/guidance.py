"""Guidance gradients grad_{x_t} log p(y | x_t) for the guided pipeline.

* :class:`CleanGuidance` (Bansal et al. 2023, "universal guidance"): an ordinary classifier of clean images
  judges the predicted clean image x0_hat = (x_t - sqrt(1 - a_t) eps_theta(x_t, t)) / sqrt(a_t); any zoo model
  works. The gradient flows through the UNet (``through_unet=True``, as in the paper) or treats eps_theta as
  a constant (cheaper: then d x0_hat / d x_t = 1 / sqrt(a_t)). With ``weighting="x0"`` (default) the step
  moves the predicted clean image itself, x0_hat += s * grad_x0 log p(y | x0_hat), so guidance acts most in
  the late steps where x0_hat is an image; ``weighting="xt"`` is plain classifier guidance on x_t, whose
  weight sqrt(1 - a_t) / sqrt(a_t) (up to ~160 at t = 999) puts nearly all of it in the first, noisiest steps,
  where x0_hat is still a blur (measured: it lowers evaluator accuracy at every scale tried).
* :class:`NoiseAwareGuidance` (Dhariwal & Nichol 2021; Kawar, Ganz & Elad 2022): a classifier trained on the
  noised images x_t themselves, conditioned on t (see :mod:`.noise_classifier`), standard or adversarially
  trained.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from optimist.core.errors import InputError
from optimist.core.runtime import evaluating
from optimist.generation.diffusion.unet import to_image_space


class Guidance(Protocol):
    def gradient(self, unet: nn.Module, scheduler, sample: torch.Tensor, t: torch.Tensor,
                 labels: torch.Tensor) -> torch.Tensor:
        """grad of sum_i log p(labels_i | sample_i) with respect to ``sample`` (model space, same shape)."""


def _log_prob_grad(logits: torch.Tensor, labels: torch.Tensor, wrt: torch.Tensor) -> torch.Tensor:
    if logits.ndim != 2 or logits.shape[0] != labels.shape[0]:
        raise InputError(f"classifier returned logits of shape {tuple(logits.shape)} for {labels.shape[0]} labels")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise InputError(f"labels must be in [0, {logits.shape[1]}), got [{labels.min()}, {labels.max()}]")
    log_p = logits.log_softmax(1).gather(1, labels[:, None]).sum()
    (grad,) = torch.autograd.grad(log_p, wrt)
    return grad


class CleanGuidance:
    """Guidance by a clean-image classifier (input (N, 1, 28, 28) in [0, 1]) through the predicted x0_hat."""

    def __init__(self, classifier: nn.Module, through_unet: bool = True, weighting: str = "x0"):
        if weighting not in ("x0", "xt"):
            raise InputError(f"weighting must be 'x0' or 'xt', got {weighting!r}")
        self.classifier = classifier  # used in eval mode for each step, then left in the caller's mode
        self.through_unet = through_unet
        self.weighting = weighting

    def predicted_clean(self, unet: nn.Module, scheduler, sample: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x0_hat in [0, 1] image space (straight-through clamp, so saturated pixels still pass gradient)."""
        a = scheduler.alphas_cumprod.to(sample.device)[t]
        if self.through_unet:
            eps = unet(sample, t).sample
        else:
            with torch.no_grad():
                eps = unet(sample, t).sample
        x0 = (sample - (1 - a).sqrt() * eps) / a.sqrt()
        img = to_image_space(x0, clamp=False)
        return img + (img.clamp(0, 1) - img).detach()

    def gradient(self, unet, scheduler, sample, t, labels):
        x = sample.detach().requires_grad_(True)
        with evaluating(self.classifier):
            logits = self.classifier(self.predicted_clean(unet, scheduler, x, t))
        grad = _log_prob_grad(logits, labels, x)
        if self.weighting == "x0":
            # the pipeline shifts eps by -s * sqrt(1 - a) * grad; with grad_xt = grad_x0 / sqrt(a) this factor
            # turns that shift into x0_hat += s * grad_x0 (exact when eps_theta is held constant)
            a = scheduler.alphas_cumprod.to(sample.device)[t]
            grad = grad * a / (1 - a)
        return grad


class NoiseAwareGuidance:
    """Guidance by a time-conditioned classifier ``classifier(x_t, t)`` of noised model-space images."""

    def __init__(self, classifier: nn.Module):
        self.classifier = classifier  # used in eval mode for each step, then left in the caller's mode

    def gradient(self, unet, scheduler, sample, t, labels):
        x = sample.detach().requires_grad_(True)
        tt = torch.as_tensor(t, device=x.device).reshape(-1).expand(x.shape[0])
        with evaluating(self.classifier):
            logits = self.classifier(x, tt)
        return _log_prob_grad(logits, labels, x)
