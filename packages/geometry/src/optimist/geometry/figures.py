"""Figures for the geometry instruments: margin histograms, margin versus frequency, curvature, universal perturbations.

Every function takes results keyed by a model label (e.g. ``{"standard": ..., "robust": ...}``) and returns a
matplotlib figure, so robust and standard models always appear side by side.
"""

from __future__ import annotations

import numpy as np
import torch

from optimist.geometry.margins import MarginResult
from optimist.geometry.subspace_margins import SubspaceMargins
from optimist.geometry.universal import UniversalResult, perturb

NORM_LABEL = {"l2": r"$\|r\|_2 / \|x\|_2$", "linf": r"$\|r\|_\infty / \|x\|_\infty$"}
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_margin_histograms(margins: dict[str, dict[str, MarginResult]], bins: int = 30):
    """One panel per norm: histograms of relative DeepFool margins per model, medians dashed."""
    plt = _plt()
    norms = list(next(iter(margins.values())))
    fig, axes = plt.subplots(1, len(norms), figsize=(5.2 * len(norms), 3.6), squeeze=False)
    for ax, norm in zip(axes[0], norms):
        values = {label: res[norm].relative.cpu().numpy() for label, res in margins.items()}
        finite = np.concatenate([v[np.isfinite(v)] for v in values.values()])
        edges = np.linspace(0, finite.max() * 1.02 if len(finite) else 1.0, bins + 1)
        for color, (label, v) in zip(COLORS, values.items()):
            v = v[np.isfinite(v)]
            ax.hist(v, bins=edges, alpha=0.45, color=color, label=f"{label} (median {np.median(v):.3f})")
            ax.axvline(np.median(v), color=color, ls="--", lw=1.2)
        ax.set_xlabel(NORM_LABEL.get(norm, norm))
        ax.set_ylabel("images")
        ax.set_title(f"DeepFool {norm.upper().replace('LINF', 'L-inf')} margin, relative to the image")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_frequency_margins(results: dict[str, SubspaceMargins], cap: float | None = None):
    """Median margin (and inter-quartile band) along each diagonal DCT block, low to high frequency, per model.

    Margins that DeepFool never found (invariant directions) are drawn at ``cap`` (default: 2x the largest
    finite value) and the band is clipped there; the y-axis is logarithmic.
    """
    plt = _plt()
    fig, (ax, ax_map) = plt.subplots(1, 2, figsize=(9.5, 3.8), gridspec_kw={"width_ratios": [3, 1]})
    finite = torch.cat([r.margin[torch.isfinite(r.margin)] for r in results.values()])
    cap = cap or (2 * float(finite.max()) if finite.numel() else 1.0)
    first = next(iter(results.values()))
    for color, (label, r) in zip(COLORS, results.items()):
        t = r.table()
        x = t["start"].to_numpy()
        med, lo, hi = (np.minimum(t[c].to_numpy(), cap) for c in ("median", "q25", "q75"))
        ax.plot(x, med, "o-", color=color, label=label, ms=4)
        ax.fill_between(x, lo, hi, color=color, alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlabel(f"start frequency of the {first.block}x{first.block} DCT block on the diagonal (low -> high)")
    ax.set_ylabel("median L2 margin in the subspace")
    ax.set_title("Margins along frequency subspaces (band: 25-75%)")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    # where the blocks sit in the frequency plane
    size = first.starts[-1] + first.block
    grid = np.zeros((size, size))
    for i, s in enumerate(first.starts):
        grid[s:s + first.block, s:s + first.block] = np.maximum(grid[s:s + first.block, s:s + first.block], i + 1)
    ax_map.imshow(grid, cmap="viridis", origin="upper")
    ax_map.set_title("blocks in the DCT plane", fontsize=9)
    ax_map.set_xlabel("k2")
    ax_map.set_ylabel("k1")
    fig.tight_layout()
    return fig


def plot_curvature(eigenvalues: dict[str, torch.Tensor], bins: int = 30):
    """Histograms of log10 of the dominant input-Hessian eigenvalue of the loss, per model."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    logs = {k: np.log10(np.clip(v.double().cpu().numpy(), 1e-12, None)) for k, v in eigenvalues.items()}
    allv = np.concatenate(list(logs.values()))
    edges = np.linspace(allv.min(), allv.max() + 1e-9, bins + 1)
    for color, (label, v) in zip(COLORS, logs.items()):
        med = float(np.median(eigenvalues[label].double().cpu().numpy()))
        ax.hist(v, bins=edges, alpha=0.45, color=color, label=f"{label} (median {med:.3g})")
    ax.set_xlabel(r"$\log_{10} \lambda_{max}$ of the input Hessian of the loss")
    ax.set_ylabel("images")
    ax.set_title("Curvature of the loss in input space")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_universal(results: dict[str, UniversalResult], models: dict, x: torch.Tensor,
                   class_names: list[str] | None = None, n_examples: int = 5):
    """Per model: the universal perturbation, then a few perturbed images with prediction before -> after.

    The same images appear in every row: first those that some model's perturbation fools, then the rest.
    """
    plt = _plt()
    n_examples = min(n_examples, len(x))
    fooled = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    with torch.no_grad():
        for label, res in results.items():
            fooled |= models[label](perturb(x, res.perturbation)).argmax(1) != models[label](x).argmax(1)
    x = x[torch.cat([fooled.nonzero().flatten(), (~fooled).nonzero().flatten()])]
    fig, axes = plt.subplots(len(results), n_examples + 1, figsize=(1.7 * (n_examples + 1), 2.0 * len(results)),
                             squeeze=False)
    names = class_names or [str(i) for i in range(10_000)]
    for row, (label, res) in zip(axes, results.items()):
        v = res.perturbation[0]
        lim = float(v.abs().max()) or 1.0
        row[0].imshow(v.mean(0).cpu().numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
        row[0].set_title(f"{label}\n{res.threat}", fontsize=8)
        model = models[label]
        xv = perturb(x[:n_examples], res.perturbation)
        with torch.no_grad():
            before, after = model(x[:n_examples]).argmax(1), model(xv).argmax(1)
        for j, ax in enumerate(row[1:]):
            img = xv[j].permute(1, 2, 0).squeeze(-1).cpu().numpy()
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
            hit = bool(before[j] != after[j])
            ax.set_title(f"{names[before[j]]}\n-> {names[after[j]]}", fontsize=7, color="red" if hit else "black")
        for ax in row:
            ax.axis("off")
    fig.tight_layout()
    return fig

