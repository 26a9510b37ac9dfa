"""Plots of the transfer results: accuracy versus source epsilon, versus shots, and the robust-minus-standard gain.

Every function takes the tidy results DataFrame and returns a matplotlib figure (the caller saves it).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optimist.core.errors import InputError
from optimist.transfer.protocols import shots_order
from optimist.transfer.results import gains, summarise
from optimist.transfer.sources import display_label

_RANK = {"none": 0, "linf": 1, "l2": 2}


def _sources(summary: pd.DataFrame) -> list[tuple[str, float]]:
    pairs = {(n, float(e)) for n, e in zip(summary["norm"], summary["epsilon"])}
    return sorted(pairs, key=lambda p: (_RANK.get(p[0], 3), p[1]))


def source_colors(pairs: list[tuple[str, float]]) -> dict[tuple[str, float], tuple]:
    """Black for standard, blues for the L∞ ladder, oranges for L2 (darker = larger epsilon)."""
    colors: dict = {}
    for norm, cmap in (("linf", plt.cm.Blues), ("l2", plt.cm.Oranges)):
        eps = sorted(e for n, e in pairs if n == norm)
        for i, e in enumerate(eps):
            colors[(norm, e)] = cmap(0.45 + 0.5 * (i + 1) / len(eps))
    for p in pairs:
        colors.setdefault(p, (0, 0, 0, 1) if p[0] == "none" else plt.cm.Greens(0.7))
    return colors


def interval_bars(ax, x, value, low, high, *, scale: float = 1.0, **kw):
    """``ax.errorbar`` of ``value`` with its interval [low, high] (NaN bounds draw no bar), all times ``scale``."""
    value, low, high = (scale * pd.Series(np.asarray(v, dtype=float)) for v in (value, low, high))
    yerr = None
    if low.notna().any():
        yerr = np.vstack([(value - low).fillna(0), (high - value).fillna(0)])
    kw = {"marker": "o", "capsize": 3, **kw}
    return ax.errorbar(x, value, yerr=yerr, **kw)


def _errorbar(ax, x, g: pd.DataFrame, **kw):
    interval_bars(ax, x, g["accuracy"], g["ci_low"], g["ci_high"], capsize=2, ms=4, lw=1.4, **kw)


def plot_vs_epsilon(df: pd.DataFrame) -> plt.Figure:
    """Target accuracy against the source's robustness, one row per protocol and one column per target.

    The first column shows the sources' own clean and PGD accuracy (on their training task): the trade-off
    between what a robust model gives up on its own task and what it gives a new one.
    """
    s = summarise(df)
    pairs = _sources(s)
    x_of = {p: i for i, p in enumerate(pairs)}
    labels = [display_label(*p) for p in pairs]
    protocols = list(dict.fromkeys(s["protocol"]))
    targets = list(dict.fromkeys(s["target"]))
    shots = shots_order(s["shots"])
    cmap = plt.cm.viridis
    fig, axes = plt.subplots(len(protocols), len(targets) + 1, figsize=(3.6 * (len(targets) + 1), 3.0 * len(protocols)),
                             squeeze=False)
    src = s.drop_duplicates(["norm", "epsilon"]).set_index(["norm", "epsilon"])
    ax0 = axes[0][0]
    xs = list(range(len(pairs)))
    ax0.plot(xs, [src.loc[p, "source_clean"] for p in pairs], "o-", color="0.2", label="clean")
    ax0.plot(xs, [src.loc[p, "source_robust"] for p in pairs], "s--", color="tab:red", label="PGD (card)")
    ax0.set_title("source task (its own test set)", fontsize=9)
    ax0.set_ylabel("source accuracy")
    ax0.legend(fontsize=7)
    for r in range(1, len(protocols)):
        axes[r][0].axis("off")
    for r, protocol in enumerate(protocols):
        for c, target in enumerate(targets, start=1):
            ax = axes[r][c]
            sub = s[(s["protocol"] == protocol) & (s["target"] == target)]
            for i, k in enumerate(shots):
                g = sub[sub["shots"] == k]
                if g.empty:
                    continue
                g = g.assign(_x=[x_of[(n, float(e))] for n, e in zip(g["norm"], g["epsilon"])]).sort_values("_x")
                color = cmap(0.9 * i / max(len(shots) - 1, 1))
                _errorbar(ax, g["_x"], g, color=color, label=f"{k}-shot" if k != "all" else "all")
            ax.set_title(f"{target} — {protocol}", fontsize=9)
            if c == 1:
                ax.set_ylabel("target test accuracy")
    for ax in axes.flat:
        if ax.axison:
            ax.set_xticks(xs, labels, rotation=30, fontsize=8)
            ax.grid(alpha=0.3)
    for row in axes:  # one legend per protocol row, on its last panel that drew something
        drawn = [ax for ax in row[1:] if ax.get_legend_handles_labels()[0]]
        if drawn:
            drawn[-1].legend(fontsize=7, title="labels per class", title_fontsize=7, loc="upper left",
                             bbox_to_anchor=(1.02, 1.0))
    fig.suptitle("Transfer accuracy versus source robustness (mean ± 95% CI over seeds)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_vs_shots(df: pd.DataFrame, protocol: str = "linear") -> plt.Figure:
    """Target accuracy against labelled images per class, one line per source, one panel per target."""
    s = summarise(df)
    s = s[s["protocol"] == protocol]
    if s.empty:
        raise InputError(f"no results for protocol {protocol!r}")
    targets = list(dict.fromkeys(s["target"]))
    shots = shots_order(s["shots"])
    x_of = {k: i for i, k in enumerate(shots)}
    pairs = _sources(s)
    colors = source_colors(pairs)
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 3.3), squeeze=False)
    for ax, target in zip(axes[0], targets):
        sub = s[s["target"] == target]
        for j, p in enumerate(pairs):  # small horizontal offsets keep the error bars apart
            g = sub[(sub["norm"] == p[0]) & (sub["epsilon"] == p[1])]
            g = g.assign(_x=g["shots"].map(x_of) + 0.06 * (j - (len(pairs) - 1) / 2)).sort_values("_x")
            _errorbar(ax, g["_x"], g, color=colors[p], label=display_label(*p))
        ax.set_xticks(range(len(shots)), shots)
        ax.set_xlabel("labelled target images per class")
        ax.set_title(f"{target} — {protocol}", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("target test accuracy")
    axes[0][-1].legend(fontsize=7, title="source", title_fontsize=7)
    fig.tight_layout()
    return fig


def plot_gains(df: pd.DataFrame, protocol: str = "linear") -> plt.Figure:
    """Paired gain of each robust source over the standard one, in accuracy points, against shots."""
    g = gains(df)
    g = g[g["protocol"] == protocol]
    if g.empty:
        raise InputError(f"no gains for protocol {protocol!r}")
    targets = list(dict.fromkeys(g["target"]))
    shots = shots_order(g["shots"])
    x_of = {k: i for i, k in enumerate(shots)}
    pairs = _sources(g)
    colors = source_colors(pairs)
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 3.3), squeeze=False, sharey=True)
    for ax, target in zip(axes[0], targets):
        sub = g[g["target"] == target]
        for j, p in enumerate(pairs):
            h = sub[(sub["norm"] == p[0]) & (sub["epsilon"] == p[1])]
            h = h.assign(_x=h["shots"].map(x_of) + 0.08 * (j - (len(pairs) - 1) / 2)).sort_values("_x")
            pts = h.assign(accuracy=100 * h["gain"], ci_low=100 * h["ci_low"], ci_high=100 * h["ci_high"])
            _errorbar(ax, pts["_x"], pts, color=colors[p], label=display_label(*p))
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_xticks(range(len(shots)), shots)
        ax.set_xlabel("labelled target images per class")
        ax.set_title(f"{target} — {protocol}", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("robust − standard (points)")
    axes[0][-1].legend(fontsize=7, title="robust source", title_fontsize=7)
    fig.tight_layout()
    return fig

