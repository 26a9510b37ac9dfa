"""Image grids: seeds, then each generator model's output on the same seeds, then the ground truth.

Each grid is drawn as one mosaic image in a single axes (fast even with hundreds of tiles), with the row
labels on the left and the column titles (target class, "A -> B", or unit) on top.
"""

from __future__ import annotations

import torch

from optimist.core.errors import InputError
from optimist.generation.result import TaskResult

MAX_COLUMNS = 12
PAD = 2  # pixels between tiles


def column_titles(results: dict[str, TaskResult], class_names: tuple[str, ...] | None, n: int) -> list[str]:
    """What each column shows: the target class, "A -> B" for translation, the unit for visualisation
    (its rank among each model's most active units when the models maximise different units)."""
    names = class_names or ()
    result = next(iter(results.values()))

    def name(k: int) -> str:
        return names[k] if k < len(names) else str(k)

    if "unit" in result.extras:
        units = [r.extras["unit"][:n] for r in results.values()]
        if all(torch.equal(u, units[0]) for u in units):
            return [f"unit {int(u)}" for u in units[0]]
        return [f"unit #{j + 1}" for j in range(min(n, len(units[0])))]
    if result.targets is None:
        return [""] * n
    if "source" in result.extras:
        return [f"{name(int(a))}\n-> {name(int(b))}" for a, b in zip(result.extras["source"][:n], result.targets[:n])]
    return [name(int(k)) for k in result.targets[:n]]


def result_rows(results: dict[str, TaskResult], n: int) -> list[tuple[str, torch.Tensor]]:
    """(label, images) rows: the shared seeds, each model's images, and the ground truth if any."""
    if not results:
        raise InputError("results is empty: pass {model name: TaskResult}")
    first = next(iter(results.values()))
    rows = [("seed", first.seeds[:n])]
    rows += [(name, r.images[:n]) for name, r in results.items()]
    if first.reference is not None:
        rows.append(("ground truth", first.reference[:n]))
    return rows


def spread_columns(result: TaskResult, n: int, num_classes: int = 10) -> torch.Tensor:
    """Indices of ``n`` examples whose classes (source class for translation) are evenly spread over the classes."""
    labels = result.extras.get("source", result.targets)
    if labels is None or "unit" in result.extras:
        return torch.arange(min(n, len(result)))
    wanted = [i * num_classes // n for i in range(n)]
    picked: list[int] = []
    for k in wanted:
        hits = [i for i in (labels == k).nonzero().flatten().tolist() if i not in picked]
        if hits:
            picked.append(hits[0])
    rest = [i for i in range(len(result)) if i not in picked]
    return torch.tensor((picked + rest)[:n])


def mosaic(rows: list[tuple[str, torch.Tensor]], n: int, pad: int = PAD) -> torch.Tensor:
    """The rows' first ``n`` images tiled into one (H, W) or (H, W, 3) array, white gaps between tiles."""
    c, h, w = rows[0][1].shape[1:]
    out = torch.ones(c, len(rows) * (h + pad) - pad, n * (w + pad) - pad)
    for i, (_, imgs) in enumerate(rows):
        for j in range(min(n, imgs.shape[0])):
            out[:, i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = imgs[j].clamp(0, 1)
    return out[0] if c == 1 else out.permute(1, 2, 0)


def draw_panel(ax, rows: list[tuple[str, torch.Tensor]], titles: list[str], n: int, title: str | None = None) -> None:
    """One grid in one axes: the mosaic, row labels on the left, column titles on top."""
    img = mosaic(rows, n)
    h, w = rows[0][1].shape[-2:]
    ax.imshow(img.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([(w + PAD) * j + w / 2 for j in range(n)], titles[:n], fontsize=6)
    ax.xaxis.tick_top()
    ax.tick_params(length=0, pad=2)
    ax.set_yticks([(h + PAD) * i + h / 2 for i in range(len(rows))], [label for label, _ in rows], fontsize=7)
    for s in ax.spines.values():
        s.set_visible(False)
    if title:
        ax.set_title(title, fontsize=9, fontweight="bold", pad=18)


def task_grid(results: dict[str, TaskResult], class_names: tuple[str, ...] | None = None, n: int = 10,
              title: str | None = None, columns: torch.Tensor | None = None):
    """One task: rows seed / model 1 / model 2 / ... / ground truth, ``n`` columns (the same examples).

    ``columns`` picks which examples to show (indices); default the first ``n``.
    """
    import matplotlib.pyplot as plt

    if columns is not None:
        results = {k: select(r, columns) for k, r in results.items()}
    n = min(n, len(next(iter(results.values()))), MAX_COLUMNS)
    rows = result_rows(results, n)
    fig, ax = plt.subplots(figsize=(0.85 * n + 1.4, 0.85 * len(rows) + 0.7))
    draw_panel(ax, rows, column_titles(results, class_names, n), n, title)
    fig.tight_layout()
    return fig


def overview(all_results: dict[str, dict[str, TaskResult]], class_names: tuple[str, ...] | None = None,
             n: int = 6, blocks_per_row: int = 2, spread: bool = True):
    """Every task in one figure: a panel per task (rows: seed, each model, ground truth; ``n`` examples of
    evenly spread classes when ``spread``), ``blocks_per_row`` panels side by side."""
    import matplotlib.pyplot as plt

    panels = []
    for task, results in all_results.items():
        first = next(iter(results.values()))
        if spread:
            idx = spread_columns(first, n, len(class_names) if class_names else 10)
            results = {k: select(r, idx) for k, r in results.items()}
        k = min(n, len(first))
        panels.append((task, result_rows(results, k), column_titles(results, class_names, k), k))
    grid_rows = -(-len(panels) // blocks_per_row)
    heights = [max(len(p[1]) for p in panels[i * blocks_per_row:(i + 1) * blocks_per_row]) for i in range(grid_rows)]
    fig, axes = plt.subplots(grid_rows, blocks_per_row, squeeze=False,
                             figsize=(blocks_per_row * (0.85 * n + 2.0), sum(0.85 * h + 0.9 for h in heights)),
                             gridspec_kw={"height_ratios": [h + 1 for h in heights]}, layout="constrained")
    for i, ax in enumerate(axes.flat):
        if i >= len(panels):
            ax.axis("off")
            continue
        task, rows, titles, k = panels[i]
        draw_panel(ax, rows, titles, k, task)
    fig.get_layout_engine().set(w_pad=0.15, h_pad=0.1)
    return fig


def select(result: TaskResult, idx: torch.Tensor) -> TaskResult:
    """The examples ``idx`` of a result (for showing a chosen subset)."""
    def pick(t):
        return None if t is None else t[idx]

    return TaskResult(result.task, result.images[idx], result.objective[idx], result.seeds[idx],
                      result.seed_objective[idx], pick(result.targets), pick(result.reference), dict(result.settings),
                      {k: v[idx] for k, v in result.extras.items()})
