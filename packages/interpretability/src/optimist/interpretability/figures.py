"""Figures of a :class:`~optimist.interpretability.compare.Comparison`: saliency grids and metric-vs-epsilon."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from optimist.core.errors import InputError
from optimist.interpretability.attributions import RANDOM
from optimist.interpretability.metrics import DIRECTION, METRICS

NORM_LABEL = {"linf": "L∞", "l2": "L2", "l1": "L1"}


def _heat(a: torch.Tensor) -> tuple[np.ndarray, float]:
    """A (H, W) signed map (channels summed) and a symmetric colour limit at its 99.5th |percentile|."""
    m = a.sum(0).cpu().numpy()
    lim = float(np.percentile(np.abs(m), 99.5)) or 1.0
    return m, lim


def saliency_grid(comparison, *, methods: Sequence[str] | None = None, models: Sequence[str] | None = None,
                  cell: float = 1.05, images_as_columns: bool = False):
    """Images × (model, method): the image, then one signed heatmap per (model, method).

    One row per image (or one column per image with ``images_as_columns=True``). Red is evidence for
    the explained class, blue against it; each map is scaled to its own 99.5th percentile of |value|
    so that the pattern, not the scale, is compared.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> from optimist.interpretability import score_maps
    >>> images = (torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]))
    >>> comparison = score_maps({"net": model}, images, n=4, methods=["gradient"], steps=3, progress=False)
    >>> fig = saliency_grid(comparison)
    >>> type(fig).__name__
    'Figure'
    """
    import matplotlib.pyplot as plt

    methods = list(methods or comparison.methods)
    models = list(models or comparison.models)
    cols = [(mo, me) for mo in models for me in methods if (mo, me) in comparison.maps]
    if not cols:
        raise InputError(f"no maps for models {models} and methods {methods}")
    n, k = len(comparison.images), len(cols) + 1
    shape = (k, n) if images_as_columns else (n, k)
    fig, axes = plt.subplots(*shape, figsize=(cell * shape[1] + 0.4, cell * shape[0] + 0.3), squeeze=False)

    def ax_at(image: int, column: int):
        return axes[column][image] if images_as_columns else axes[image][column]

    names = comparison.class_names
    headers = ["image"] + [mo if len(methods) == 1 else f"{mo}\n{me}" for mo, me in cols]
    for i in range(n):
        img = comparison.images[i].cpu()
        ax_at(i, 0).imshow(img.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
        for j, (mo, me) in enumerate(cols, start=1):
            m, lim = _heat(comparison.maps[(mo, me)][i])
            ax_at(i, j).imshow(m, cmap="bwr", vmin=-lim, vmax=lim)
        label = ""
        if comparison.labels is not None:
            lab = int(comparison.labels[i])
            label = names[lab] if names else str(lab)
        if images_as_columns:
            ax_at(i, 0).set_title(label, fontsize=7)
        else:
            ax_at(i, 0).set_ylabel(label, fontsize=7)
    for ax in axes.flatten():
        ax.set_xticks([])
        ax.set_yticks([])
    for j, h in enumerate(headers):
        if images_as_columns:
            ax_at(0, j).set_ylabel(h, fontsize=7)
        else:
            ax_at(0, j).set_title(h, fontsize=7)
    fig.tight_layout(pad=0.3)
    return fig


def metric_vs_epsilon(comparison, epsilons: Mapping[str, tuple[str | None, float]],
                      *, metrics: Sequence[str] | None = None, methods: Sequence[str] | None = None):
    """One panel per (norm, metric): each method's mean and 95% interval against the training epsilon.

    ``epsilons`` maps a model name of the comparison to ``(norm, eps)``; the standard model is
    ``(None, 0.0)`` and starts every norm's curve. The random baseline is the dashed grey line.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> from optimist.interpretability import score_maps
    >>> models = {"standard": model, "robust": build_model("small-cnn", 10, 1, 28).eval()}
    >>> images = (torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]))
    >>> comparison = score_maps(models, images, n=4, methods=["gradient"], metrics=["gini"], progress=False)
    >>> fig = metric_vs_epsilon(comparison, {"standard": (None, 0.0), "robust": ("linf", 0.1)})
    >>> len(fig.axes)
    1
    """
    import matplotlib.pyplot as plt

    t = comparison.table
    metrics = [m for m in (metrics or METRICS) if m in set(t["metric"])]
    methods = list(methods or comparison.methods)
    known = {k: v for k, v in epsilons.items() if k in set(t["model"])}
    norms = sorted({nm for nm, _ in known.values() if nm is not None}) or [None]
    panels = [(norm, metric) for norm in norms for metric in metrics]
    ncols = min(4, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.7 * ncols, 2.3 * nrows), squeeze=False)
    flat = axes.flatten()
    handles = None
    for ax, (norm, metric) in zip(flat, panels):
        ladder = sorted((eps, name) for name, (nm, eps) in known.items() if nm in (norm, None))
        xs = [eps for eps, _ in ladder]
        for method in methods:
            rows = [t[(t["model"] == name) & (t["method"] == method) & (t["metric"] == metric)] for _, name in ladder]
            if any(len(row) == 0 for row in rows):
                continue
            mean, lo, hi = (np.array([float(r[col].iloc[0]) for r in rows]) for col in ("mean", "ci_low", "ci_high"))
            style = dict(color="0.5", linestyle="--") if method == RANDOM else dict(marker="o", markersize=3)
            (line,) = ax.plot(xs, mean, label=method, **style)
            ax.fill_between(xs, lo, hi, alpha=0.12, color=line.get_color(), linewidth=0)
        arrow = {1: " (higher better)", -1: " (lower better)", 0: ""}[DIRECTION[metric]]
        ax.set_title(metric + arrow, fontsize=8)
        ax.set_xlabel(f"training ε ({NORM_LABEL.get(norm, norm) if norm else 'none'})", fontsize=7)
        ax.tick_params(labelsize=7)
        handles = ax.get_legend_handles_labels()
    for ax in flat[len(panels):]:
        ax.axis("off")
    if handles:
        (flat[-1] if len(flat) > len(panels) else flat[0]).legend(*handles, fontsize=7, loc="center" if len(flat) >
                                                                    len(panels) else "best")
    fig.tight_layout()
    return fig
