"""The measured comparison: unguided, standard- and robust-classifier guidance, and robust + BIGRoC, over a
sweep of guidance scales, all from the same seeds, judged by an independent evaluator (accuracy to the
requested class, Fréchet distance in its features to real images of that class, per-class diversity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd
import torch

from optimist.core.errors import InputError
from optimist.core.stats import paired_interval, proportion_interval
from optimist.generation.diffusion.guidance import Guidance
from optimist.generation.diffusion.pipeline import GuidedDiffusionPipeline
from optimist.generation.evaluate import RealReference, quality, real_floor

UNGUIDED = "unguided"


@dataclass
class GuidanceKind:
    """A named way to guide: a guidance (None: unguided) and an optional refiner, with the family it belongs to
    (e.g. "x0-hat" or "noise-aware") and whether its classifier is robust."""

    name: str
    guidance: Guidance | None
    refine: Callable | None = None
    family: str = ""
    robust: bool = False
    scales: list[float] | None = None  # this kind's own sweep (default: the sweep's scales)


def class_labels(classes: list[int], per_class: int) -> torch.Tensor:
    """``per_class`` copies of each class, class-major: the same label layout for every run."""
    if per_class < 1 or not classes:
        raise InputError(f"need at least one class and per_class >= 1, got {classes}, {per_class}")
    return torch.tensor(classes).repeat_interleave(per_class)


def sample(pipe: GuidedDiffusionPipeline, kind: GuidanceKind, scale: float, labels: torch.Tensor, seed: int,
           steps: int) -> torch.Tensor:
    """Images for ``labels`` with ``kind`` at ``scale``, from ``seed`` (the same noise for every kind)."""
    out = pipe(labels, guidance=kind.guidance, guidance_scale=scale if kind.guidance is not None else 0.0,
               num_inference_steps=steps, generator=torch.Generator().manual_seed(seed), refine=kind.refine)
    return out.images


def sweep(pipe: GuidedDiffusionPipeline, kinds: list[GuidanceKind], scales: list[float], labels: torch.Tensor,
          reference: RealReference, seed: int = 0, steps: int = 50, log: Callable[[str], None] = print
          ) -> tuple[pd.DataFrame, dict[tuple[str, float], torch.Tensor]]:
    """One row per (kind, scale) plus the unguided and real-image rows; also returns every batch of images."""
    if any(s <= 0 for k in kinds for s in (k.scales or scales)):
        raise InputError(f"scales must be > 0 (the unguided row is added once), got {scales}")
    rows, images = [], {}
    plain = sample(pipe, GuidanceKind(UNGUIDED, None), 0.0, labels, seed, steps)
    images[(UNGUIDED, 0.0)] = plain
    rows.append({"kind": UNGUIDED, "family": "", "robust": False, "scale": 0.0,
                 **quality(plain, labels, reference, seed=seed)})
    for kind in kinds:
        for scale in kind.scales or scales:
            x = sample(pipe, kind, scale, labels, seed, steps)
            images[(kind.name, scale)] = x
            row = {"kind": kind.name, "family": kind.family, "robust": kind.robust, "scale": scale,
                   **quality(x, labels, reference, seed=seed)}
            rows.append(row)
            log(f"  {kind.name:<32} scale {scale:<5g} accuracy {row['evaluator accuracy']:.3f} "
                f"FD {row['frechet']:.2f} diversity {row['diversity']:.2f}")
    rows.append({"kind": "real images", "family": "", "robust": False, "scale": float("nan"),
                 **real_floor(labels, reference, seed=seed)})
    return pd.DataFrame(rows), images


def best_scales(table: pd.DataFrame) -> pd.DataFrame:
    """Per kind: the scale with the highest evaluator accuracy and the scale with the lowest Fréchet distance."""
    out = []
    for kind, t in table[table.scale > 0].groupby("kind", sort=False):
        a = t.loc[t["evaluator accuracy"].idxmax()]
        f = t.loc[t["frechet"].idxmin()]
        out.append({"kind": kind, "family": a["family"], "robust": a["robust"],
                    "best accuracy": a["evaluator accuracy"], "at scale": a["scale"],
                    "best frechet": f["frechet"], "at scale (FD)": f["scale"]})
    return pd.DataFrame(out)


def margins(best: pd.DataFrame, robust: str, standard: str, *,
            correct: dict[tuple[str, float], torch.Tensor] | None = None, confidence: float = 0.95) -> dict:
    """Robust minus standard best accuracy, and standard minus robust best FD (positive = robust better).

    With ``correct`` ({(kind, scale): 0/1 per sample, same seeds for every kind}) the accuracy gain also gets
    a ``confidence`` interval: the paired normal (Student-t) interval of the per-sample differences at each
    kind's best-accuracy scale, and each side's Wilson interval.
    """
    r, s = best.set_index("kind").loc[robust], best.set_index("kind").loc[standard]
    out = {"robust": robust, "standard": standard,
           "accuracy gain": float(r["best accuracy"] - s["best accuracy"]),
           "frechet gain": float(s["best frechet"] - r["best frechet"])}
    if correct is not None:
        a, b = correct[(robust, float(r["at scale"]))].float(), correct[(standard, float(s["at scale"]))].float()
        _, lo, hi = paired_interval(a.numpy(), b.numpy(), confidence=confidence)
        out.update({"gain low": lo, "gain high": hi, "n": len(a)})
        for side, v in (("robust", a), ("standard", b)):
            _, lo, hi = proportion_interval(v.numpy(), confidence=confidence)
            out[f"{side} accuracy (Wilson)"] = f"{float(v.mean()):.3f} [{lo:.3f}, {hi:.3f}]"
    return out


def correctness(images: dict[tuple[str, float], torch.Tensor], labels: torch.Tensor, reference: RealReference
                ) -> dict[tuple[str, float], torch.Tensor]:
    """Per-sample evaluator correctness (bool) of every batch of images from :func:`sweep`."""
    return {key: reference.evaluator.predict(x) == labels for key, x in images.items()}


def plot_sweep(table: pd.DataFrame):
    """Accuracy and Fréchet distance versus guidance scale, one line per kind (unguided and real dashed)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    guided = table[table.scale > 0]
    for ax, col in zip(axes, ("evaluator accuracy", "frechet")):
        for kind, t in guided.groupby("kind", sort=False):
            ax.plot(t.scale, t[col], marker="o", linestyle="-" if t.robust.iloc[0] else "--", label=kind)
        for ref, style in ((UNGUIDED, ":"), ("real images", "-.")):
            v = table.loc[table.kind == ref, col]
            if len(v):
                ax.axhline(float(v.iloc[0]), color="gray", linestyle=style, label=ref)
        ax.set_xscale("log")
        ax.set_xlabel("guidance scale")
        ax.set_ylabel(col)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_grids(images: dict[tuple[str, float], torch.Tensor], keys: list[tuple[str, float]], labels: torch.Tensor,
               class_names: list[str] | None = None, per_row: int | None = None):
    """One panel per (kind, scale): rows are classes, columns the samples of that class."""
    import matplotlib.pyplot as plt

    classes = labels.unique(sorted=False).tolist()
    per_class = int((labels == classes[0]).sum()) if per_row is None else per_row
    fig, axes = plt.subplots(1, len(keys), figsize=(max(1.6, 0.35 * per_class) * len(keys) + 1, 0.6 * len(classes) + 1),
                             squeeze=False)
    for ax, key in zip(axes[0], keys):
        x = images[key]
        rows = [torch.cat([x[labels == c][i, 0] for i in range(per_class)], dim=1) for c in classes]
        ax.imshow(torch.cat(rows, dim=0).numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(key[0].replace(", ", ",\n") + f"\nscale {key[1]:g}", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks(range(14, 28 * len(classes), 28))
        ax.set_yticklabels([class_names[c] if class_names else str(c) for c in classes], fontsize=6)
    fig.tight_layout()
    return fig
