"""Margin distribution: each example's minimal L2 / L-inf perturbation found by DeepFool (core).

The margin of ``x`` is the norm of the smallest perturbation that changes the model's prediction, estimated by
DeepFool (Moosavi-Dezfooli et al. 2016) with ``clamp=False``, so it measures the geometry of the function
itself, not of the image box. ``relative`` divides by ``||x||`` in the same norm; its mean is DeepFool's
robustness score rho (0.20 for LeNet on MNIST in the paper). Examples DeepFool could not move across the
boundary within ``max_iter`` get an infinite margin: medians and quantiles stay meaningful, means skip them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from optimist.core.attacks import Threat, as_threat, deepfool
from optimist.core.checks import check_model_input
from optimist.core.errors import InputError

NORM_P = {"l2": 2.0, "linf": math.inf}


@dataclass
class MarginResult:
    """Per-example margins (inf where DeepFool failed), margins relative to ``||x||`` and predicted labels."""

    norm: str
    margin: torch.Tensor
    relative: torch.Tensor
    success: torch.Tensor
    predicted: torch.Tensor

    def summary(self) -> dict:
        """Median, quartiles, mean over found margins, rho (mean relative margin) and the success rate."""
        return summarize(self.margin, self.relative, self.success)


def summarize(margin: torch.Tensor, relative: torch.Tensor | None = None, success: torch.Tensor | None = None) -> dict:
    """Summary statistics of a margin sample in which failures are ``inf``.

    Examples
    --------
    >>> import torch
    >>> stats = summarize(torch.tensor([0.5, 1.0, 2.0, float("inf")]))
    >>> stats["n"], stats["median"], stats["found"]
    (4, 1.5, 0.75)
    """
    m = margin.double().cpu().numpy()
    found = np.isfinite(m)
    q25, q50, q75 = np.quantile(m, [0.25, 0.5, 0.75]) if len(m) else (math.nan,) * 3
    out = {"n": int(len(m)), "median": float(q50), "q25": float(q25), "q75": float(q75),
           "mean": float(m[found].mean()) if found.any() else math.nan}
    if relative is not None:
        r = relative.double().cpu().numpy()
        out["rho"] = float(r[np.isfinite(r)].mean()) if np.isfinite(r).any() else math.nan
    found_rate = success.float().cpu() if success is not None else torch.from_numpy(found).float()
    out["found"] = float(found_rate.mean()) if len(m) else math.nan
    return out


def deepfool_margins(model: nn.Module, x: torch.Tensor, norm: "str | Threat" = "l2", *,
                     basis: torch.Tensor | Callable[[torch.Tensor], torch.Tensor] | None = None,
                     overshoot: float = 0.02, max_iter: int = 50, num_candidates: int = 10, batch_size: int = 128,
                     progress: bool = False, desc: str = "margins") -> MarginResult:
    """DeepFool margins of images ``x`` (N, C, H, W) in [0, 1], optionally restricted to the span of ``basis``
    (a (K, D) matrix with orthonormal rows, or the orthogonal projection onto the subspace as a function, e.g.
    :func:`~optimist.geometry.dct.dct_block_projector`).

    The margin includes DeepFool's overshoot (``(1 + overshoot)`` times the linearised distance), as in the
    paper's rho; pass ``overshoot=0`` for the bare linearised distance.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> result = deepfool_margins(model, torch.rand(4, 1, 28, 28), "l2", max_iter=5)
    >>> result.norm, result.margin.shape, result.success.dtype
    ('l2', torch.Size([4]), torch.bool)
    """
    check_model_input(model, x)
    norm = norm if isinstance(norm, str) and ":" not in norm else as_threat(norm).norm
    if norm not in NORM_P:
        raise InputError(f"unknown norm {norm!r}; use 'l2' or 'linf' (or a Threat such as 'l2:inf')")
    if batch_size < 1:
        raise InputError(f"batch_size must be positive, got {batch_size}")
    margins, success, predicted = [], [], []
    starts = range(0, len(x), batch_size)
    for i in tqdm(starts, desc=desc, disable=not progress or len(starts) < 2, leave=False):
        xb = x[i:i + batch_size]
        with torch.no_grad():
            predicted.append(model(xb).argmax(1))
        res = deepfool(model, xb, norm=norm, overshoot=overshoot, max_iter=max_iter,
                       num_candidates=num_candidates, clamp=False,
                       **({"project": basis} if callable(basis) else {"basis": basis}))
        margins.append(torch.where(res.success, res.norm, torch.full_like(res.norm, math.inf)))
        success.append(res.success)
    margin = torch.cat(margins) if margins else torch.zeros(0)
    size = x.flatten(1).norm(p=NORM_P[norm], dim=1).clamp_min(1e-12)
    return MarginResult(norm, margin, margin / size, torch.cat(success) if success else torch.zeros(0, dtype=bool),
                        torch.cat(predicted) if predicted else torch.zeros(0, dtype=torch.long))


def margin_distribution(model: nn.Module, x: torch.Tensor, *, norms: tuple[str, ...] = ("l2", "linf"),
                        progress: bool = False, **deepfool_kwargs) -> dict[str, MarginResult]:
    """Margins of ``x`` in each of ``norms`` (``"l2"``, ``"linf"``): ``{norm: MarginResult}``.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> margins = margin_distribution(model, torch.rand(4, 1, 28, 28), max_iter=5)
    >>> sorted(margins), margins["linf"].margin.shape
    (['l2', 'linf'], torch.Size([4]))
    """
    if not norms:
        raise InputError("give at least one norm")
    return {n: deepfool_margins(model, x, n, progress=progress, desc=f"margins {n}", **deepfool_kwargs)
            for n in norms}
