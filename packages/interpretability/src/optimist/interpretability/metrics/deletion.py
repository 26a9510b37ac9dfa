"""Deletion and insertion curves and their AUC (Petsiuk, Das, Saenko, "RISE", BMVC 2018).

Pixels are ranked by the saliency map's magnitude, most important first (``order="abs"``, the
classical saliency map |a|; ``order="signed"`` ranks evidence for the class first, which suits maps of
contributions relative to a black image but not a gradient, whose sign says which way a pixel should
move, not whether moving it to the baseline raises or lowers the class score). *Deletion* replaces them, a fraction at a
time, with a baseline (black by default) and tracks the softmax probability of the explained class: a
faithful map makes it fall fast, so **lower deletion AUC is better**. *Insertion* starts from the baseline
(a blurred copy by default, as in RISE) and puts the pixels back in the same order: **higher insertion
AUC is better**. The AUC is the trapezoid area under probability versus fraction of pixels changed, in
[0, 1]. The images of every step of every image go through the model ``batch_size`` at a time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from optimist.core.checks import check_model_input
from optimist.core.errors import InputError
from optimist.interpretability.metrics._checks import check_maps

ORDERS = ("abs", "signed")
BASELINES = ("black", "blur", "mean")


def pixel_ranking(attributions: torch.Tensor, order: str = "abs", seed: int = 0) -> torch.Tensor:
    """For every image, the pixel indices (over H*W) from most to least important.

    A pixel's score is the sum of absolute attributions over channels (``order="abs"``) or the signed
    sum (``order="signed"``: evidence for the class first). Ties are broken in a seeded random order, so
    a map that is flat over a region does not delete it top-left first.
    """
    if order not in ORDERS:
        raise InputError(f"unknown order {order!r}; choose one of {', '.join(ORDERS)}")
    a = attributions.abs() if order == "abs" else attributions
    score = a.sum(1).reshape(len(a), -1)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(score.shape[1], generator=g).to(score.device)
    ranked = torch.argsort(score[:, perm], dim=1, descending=True, stable=True)
    return perm[ranked]


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(round(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[1]
    kx = k.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    ky = k.view(1, 1, -1, 1).expand(c, 1, -1, 1)
    y = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kx, groups=c)
    return F.conv2d(F.pad(y, (0, 0, radius, radius), mode="replicate"), ky, groups=c)


def make_baseline(x: torch.Tensor, baseline: str | float | torch.Tensor, blur_sigma: float = 2.0) -> torch.Tensor:
    """The image that deleted pixels take (deletion) or that insertion starts from, shape ``x.shape``."""
    if isinstance(baseline, torch.Tensor):
        return baseline.to(x).expand_as(x)
    if isinstance(baseline, (int, float)):
        return torch.full_like(x, float(baseline))
    if baseline == "black":
        return torch.zeros_like(x)
    if baseline == "blur":
        return _gaussian_blur(x, blur_sigma)
    if baseline == "mean":
        return x.mean(dim=(2, 3), keepdim=True).expand_as(x)
    raise InputError(f"unknown baseline {baseline!r}; choose one of {', '.join(BASELINES)}, a number or a tensor")


@torch.no_grad()
def perturbation_curve(model: nn.Module, x: torch.Tensor, attributions: torch.Tensor, target: torch.Tensor,
                       mode: str = "deletion", steps: int = 24, baseline: str | float | torch.Tensor | None = None,
                       order: str = "abs", batch_size: int = 256, seed: int = 0) -> torch.Tensor:
    """Class probability after changing 0, 1/steps, …, all pixels: shape (N, steps + 1).

    ``mode`` is "deletion" (pixels go to the baseline, most important first) or "insertion" (the
    baseline gets the pixels back). ``baseline`` defaults to "black" for deletion and "blur" for
    insertion, following RISE. The N * (steps + 1) changed images are made and scored ``batch_size`` at a time
    (image by image, step by step), so a forward pass never holds more than ``batch_size`` images.
    """
    check_model_input(model, x)
    check_maps(attributions, x)
    if mode not in ("deletion", "insertion"):
        raise InputError(f"unknown mode {mode!r}; choose 'deletion' or 'insertion'")
    if x.shape != attributions.shape:
        raise InputError(f"images {tuple(x.shape)} and attributions {tuple(attributions.shape)} differ in shape")
    if steps < 1:
        raise InputError(f"steps must be >= 1, got {steps}")
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    target = torch.as_tensor(target, dtype=torch.long, device=x.device).expand(len(x))
    baseline = ("black" if mode == "deletion" else "blur") if baseline is None else baseline
    base = make_baseline(x, baseline)
    n, c, h, w = x.shape
    ranking = pixel_ranking(attributions, order, seed)
    rank_of = torch.empty_like(ranking)
    rank_of.scatter_(1, ranking, torch.arange(h * w, device=x.device).expand(n, -1))
    counts = torch.linspace(0, h * w, steps + 1, device=x.device).round().long()
    rows = n * (steps + 1)  # row r: image r // (steps + 1) with counts[r % (steps + 1)] pixels changed
    probs = []
    for start in range(0, rows, batch_size):
        r = torch.arange(start, min(rows, start + batch_size), device=x.device)
        image, step = r // (steps + 1), r % (steps + 1)
        changed = (rank_of[image] < counts[step].unsqueeze(1)).view(-1, 1, h, w)
        src, dst = (x[image], base[image]) if mode == "deletion" else (base[image], x[image])
        p = model(torch.where(changed, dst, src)).softmax(1)
        probs.append(p.gather(1, target[image].unsqueeze(1)).squeeze(1))
    return torch.cat(probs).view(n, steps + 1)


def curve_auc(curve: torch.Tensor) -> torch.Tensor:
    """Trapezoid area under each row of a (N, steps + 1) curve over an evenly spaced [0, 1] axis."""
    return ((curve[:, 1:] + curve[:, :-1]) / 2).mean(1)


def deletion_auc(model: nn.Module, x: torch.Tensor, attributions: torch.Tensor, target: torch.Tensor,
                 *, steps: int = 24, baseline="black", order: str = "abs", batch_size: int = 256,
                 seed: int = 0) -> torch.Tensor:
    """Per-example deletion AUC (Petsiuk et al. 2018): area under the class probability as the most
    salient pixels are set to ``baseline``. Lower is better.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    >>> maps = torch.randn(4, 1, 28, 28)
    >>> auc = deletion_auc(model, x, maps, y, steps=4)
    >>> auc.shape, bool(((auc >= 0) & (auc <= 1)).all())
    (torch.Size([4]), True)
    """
    return curve_auc(perturbation_curve(model, x, attributions, target, "deletion", steps, baseline, order,
                                        batch_size, seed))


def insertion_auc(model: nn.Module, x: torch.Tensor, attributions: torch.Tensor, target: torch.Tensor,
                  *, steps: int = 24, baseline="blur", order: str = "abs", batch_size: int = 256,
                  seed: int = 0) -> torch.Tensor:
    """Per-example insertion AUC (Petsiuk et al. 2018): area under the class probability as the most
    salient pixels are restored into ``baseline`` (a blurred copy by default). Higher is better.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    >>> maps = torch.randn(4, 1, 28, 28)
    >>> auc = insertion_auc(model, x, maps, y, steps=4)
    >>> auc.shape, bool(((auc >= 0) & (auc <= 1)).all())
    (torch.Size([4]), True)
    """
    return curve_auc(perturbation_curve(model, x, attributions, target, "insertion", steps, baseline, order,
                                        batch_size, seed))
