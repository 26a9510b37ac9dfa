"""Universal adversarial perturbations (Moosavi-Dezfooli et al. 2017): one perturbation for a whole dataset.

Pass over the data; wherever ``x + v`` is still classified as ``x`` was, DeepFool (core) finds the minimal extra
step ``dv`` from ``x + v``; ``v`` moves by ``dv`` and is projected back onto the threat ball
(``Threat.project``). Stop once the fooling rate on the fitting images reaches the target, or after
``max_passes``; the perturbation of the pass with the highest fooling rate is kept. With ``batch_size=1`` this is
the paper's sequential algorithm; a larger batch adds up the DeepFool steps of its images before projecting (the
sequential updates without re-linearising in between: far fewer, larger batched calls on a CPU). DeepFool runs
with ``clamp=False`` (the step is geometric, the image box is applied when measuring). The fooling rate is the
fraction of images whose predicted label changes under ``clamp(x + v, 0, 1)``; report it on held-out images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch import nn
from tqdm.auto import tqdm

from optimist.core.attacks import Threat, as_threat, deepfool
from optimist.core.checks import check_images, check_model_input
from optimist.core.errors import InputError
from optimist.core.runtime import predict
from optimist.core.settings import Settings, setting


@dataclass
class UniversalResult:
    """The kept perturbation (1, C, H, W), its threat, and the fooling rate on the fitting images after each pass."""

    perturbation: torch.Tensor
    threat: Threat
    history: list[float] = field(default_factory=list)

    @property
    def passes(self) -> int:
        return len(self.history)

    @property
    def fit_fooling_rate(self) -> float:
        """Fooling rate of the kept perturbation on the fitting images."""
        return max(self.history) if self.history else 0.0


@torch.no_grad()
def _predict(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    return predict(model, x, batch_size=batch_size)


def perturb(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Images ``x`` plus one perturbation ``v``, kept in [0, 1].

    Examples
    --------
    >>> import torch
    >>> x_shifted = perturb(torch.rand(4, 1, 28, 28), torch.full((1, 1, 28, 28), 2.0))
    >>> x_shifted.shape, float(x_shifted.min()), float(x_shifted.max())
    (torch.Size([4, 1, 28, 28]), 1.0, 1.0)
    """
    return (x + v).clamp(0, 1)


def fooling_rate(model: nn.Module, x: torch.Tensor, v: torch.Tensor) -> float:
    """Fraction of images ``x`` whose predicted label changes when ``v`` is added (clamped to [0, 1]).

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> fooling_rate(model, torch.rand(4, 1, 28, 28), torch.zeros(1, 1, 28, 28))
    0.0
    """
    check_images(x)
    if v.shape[-3:] != x.shape[-3:]:
        raise InputError(f"perturbation shape {tuple(v.shape)} does not match images {tuple(x.shape)}")
    if len(x) == 0:
        raise InputError("no images to measure a fooling rate on")
    return float((_predict(model, perturb(x, v)) != _predict(model, x)).float().mean())


@dataclass(frozen=True)
class UniversalSettings(Settings):
    """How :func:`universal_perturbation` fits; pass one as ``settings=`` or give any field as a keyword."""

    target_fooling_rate: float = setting(0.8, "stop once this fraction of x is fooled (the paper's 1 - delta)")
    max_passes: int = setting(5, "passes over x at most, each in a seeded random order")
    batch_size: int = setting(16, "images whose DeepFool steps are summed into one update (1: the paper's algorithm)")
    deepfool_norm: Optional[str] = setting(None, "norm of the DeepFool steps (default: the threat's)")
    overshoot: float = setting(0.02, "DeepFool overshoot")
    max_iter: int = setting(20, "DeepFool iterations per step")
    num_candidates: int = setting(10, "DeepFool candidate classes")
    deepfool_batch: Optional[int] = setting(None, "images per DeepFool call inside an update, to bound memory "
                                                  "(default: all of the update's images)", minimum=1)


def universal_perturbation(
    model: nn.Module,
    x: torch.Tensor,
    threat: Threat | str = "linf:0.1",
    *,
    settings: UniversalSettings | None = None,
    seed: int = 0,
    progress: bool = False,
    **options: Any,
) -> UniversalResult:
    """Fit one perturbation in ``threat``'s ball that changes the prediction on as many of ``x`` as it can.

    Args:
        x: fitting images (N, C, H, W) in [0, 1]; measure the result on other images with :func:`fooling_rate`.
        target_fooling_rate: stop once this fraction of ``x`` is fooled (the paper's 1 - delta).
        max_passes: passes over ``x`` at most; images are visited in a seeded random order each pass.
        batch_size: images whose DeepFool steps are summed into one update (1: the paper's algorithm).
        deepfool_norm: norm of the DeepFool steps; defaults to the threat's norm.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> result = universal_perturbation(model, torch.rand(4, 1, 28, 28), "linf:0.1", max_passes=1, max_iter=5)
    >>> result.perturbation.shape, bool(result.perturbation.abs().max() <= 0.1 + 1e-6)
    (torch.Size([1, 1, 28, 28]), True)
    """
    check_model_input(model, x)
    s = UniversalSettings.merged(settings, options)
    target_fooling_rate, max_passes, batch_size = s.target_fooling_rate, s.max_passes, s.batch_size
    deepfool_norm, overshoot, max_iter, num_candidates = s.deepfool_norm, s.overshoot, s.max_iter, s.num_candidates
    step = s.deepfool_batch or batch_size
    threat = as_threat(threat)
    if threat.unbounded:
        raise InputError("a universal perturbation needs a finite budget, e.g. 'linf:0.1' or 'l2:3'")
    if not 0 < target_fooling_rate <= 1:
        raise InputError(f"target_fooling_rate must be in (0, 1], got {target_fooling_rate}")
    if max_passes < 1 or batch_size < 1:
        raise InputError(f"max_passes and batch_size must be >= 1, got {max_passes} and {batch_size}")
    norm = deepfool_norm or threat.norm
    gen = torch.Generator().manual_seed(seed)
    labels = _predict(model, x, step)
    v = torch.zeros_like(x[:1])
    history: list[float] = []
    bar = tqdm(total=max_passes * len(x), desc=f"universal {threat}", disable=not progress, leave=False)
    for _ in range(max_passes):
        order = torch.randperm(len(x), generator=gen).to(x.device)
        for i in range(0, len(x), batch_size):
            rows = order[i:i + batch_size]
            xv = perturb(x[rows], v)
            keep = _predict(model, xv, step) == labels[rows]
            bar.update(len(rows))
            update, moved = torch.zeros_like(v), False
            for part in xv[keep].split(step):  # the update sums every image's step, however many at a time
                res = deepfool(model, part, norm=norm, overshoot=overshoot, max_iter=max_iter,
                               num_candidates=num_candidates, clamp=False)
                update += res.delta[res.success].sum(0, keepdim=True)
                moved = moved or bool(res.success.any())
            if moved:
                v = threat.project(v + update)
        history.append(float((_predict(model, perturb(x, v), step) != labels).float().mean()))
        if history[-1] >= max(history):
            best = v.clone()
        bar.set_postfix(fooling=f"{history[-1]:.2f}")
        if history[-1] >= target_fooling_rate:
            break
    bar.close()
    return UniversalResult(best.detach(), threat, history)
