"""Figures of the shifts application: example corruptions, per-corruption accuracy bars, Fourier heat maps."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from optimist.shifts.fourier import BANDS, NO_BAND  # noqa: E402

BAND_COLOURS = {"low": "#1f77b4", "mid": "#7f7f7f", "high": "#d62728"}


def _img(t):
    a = t.detach().cpu().numpy()
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


def plot_examples(clean, examples: dict, band_of_c: dict, sevs=(1, 2, 3, 4, 5)):
    """Rows: severity 0 (clean) .. 5; columns: corruptions (title coloured by measured band)."""
    names = list(examples)
    rows = 1 + len(sevs)
    fig, axes = plt.subplots(rows, len(names), figsize=(0.72 * len(names) + 0.6, 0.78 * rows + 0.9), squeeze=False)
    grey = clean.shape[0] == 1
    for j, name in enumerate(names):
        for i in range(rows):
            ax = axes[i, j]
            im = _img(clean) if i == 0 else _img(examples[name][sevs[i - 1] - 1])
            ax.imshow(im, cmap="gray" if grey else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel("clean" if i == 0 else f"s{sevs[i - 1]}", fontsize=7)
        axes[0, j].set_title(name.replace("_", "\n"), fontsize=6, color=BAND_COLOURS.get(band_of_c.get(name), "k"))
    fig.suptitle("Corruptions at severities 1-5 (title colour: measured band; blue low, grey mid, red high)",
                 fontsize=8)
    fig.tight_layout()
    return fig


def plot_bars(table, labels, names, band_of_c):
    """Accuracy (mean over severities) per corruption and model, corruptions grouped by band."""
    t = table[table.measurement == "accuracy (mean over severities)"]
    order = [c for b in (*BANDS, NO_BAND) for c in names if band_of_c[c] == b]
    fig, ax = plt.subplots(figsize=(max(7, 0.45 * len(order) + 2), 3.6))
    width = 0.8 / len(labels)
    xs = np.arange(len(order))
    for k, m in enumerate(labels):
        sub = t[t.model == m].set_index("corruption").reindex(order)
        err = np.stack([sub.value - sub.low, sub.high - sub.value])
        ax.bar(xs + (k - (len(labels) - 1) / 2) * width, sub.value, width, yerr=err, capsize=1.5, label=m)
        c = table[(table.model == m) & (table.measurement == "clean accuracy")].value.iloc[0]
        ax.axhline(c, color=f"C{k}", ls="--", lw=0.8)
    ax.set_xticks(xs)
    ax.set_xticklabels(order, rotation=60, ha="right", fontsize=7)
    for lab in ax.get_xticklabels():
        lab.set_color(BAND_COLOURS.get(band_of_c[lab.get_text()], "k"))
    ax.set_ylabel("accuracy (mean over severities)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="lower left", title="dashed: clean", title_fontsize=7)
    ax.set_title("Per-corruption accuracy (label colour: measured band; blue low, grey mid, red high)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_heatmaps(heat: dict, labels, base):
    """One panel per model (error rate by frequency) and the difference of each model from ``base``."""
    others = [m for m in labels if m != base]
    panels = [(m, heat[m]["error"], "viridis", (0, 1)) for m in labels]
    for m in others:
        d = heat[m]["error"] - heat[base]["error"]
        lim = max(0.05, float(np.nanmax(np.abs(d))))
        panels.append((f"{m} − {base}", d, "RdBu_r", (-lim, lim)))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.1 * len(panels), 3.1), squeeze=False)
    any_m = heat[labels[0]]
    us, vs = np.asarray(any_m["u"]), np.asarray(any_m["v"])
    # a strided map: show the evaluated sub-grid, each cell as wide as the stride
    done = ~np.isnan(any_m["error"])
    rows, cols = done.any(1), done.any(0)
    su, sv = us[rows], vs[cols]
    du = su[1] - su[0] if len(su) > 1 else 1
    dv = sv[1] - sv[0] if len(sv) > 1 else 1
    extent = (sv[0] - dv / 2, sv[-1] + dv / 2, su[-1] + du / 2, su[0] - du / 2)
    for ax, (title, arr, cmap, (lo, hi)) in zip(axes[0], panels):
        im = ax.imshow(np.ma.masked_invalid(arr[rows][:, cols]), cmap=cmap, vmin=lo, vmax=hi, extent=extent)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("column frequency v", fontsize=7)
        ax.set_ylabel("row frequency u", fontsize=7)
        ax.tick_params(labelsize=6)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=6)
    fig.suptitle(f"Fourier heat maps: error rate under a basis image of L2 norm {any_m['eps']:g}", fontsize=9)
    fig.tight_layout()
    return fig
