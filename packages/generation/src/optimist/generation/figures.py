"""Image grids: seeds, then each generator model's output on the same seeds, then the ground truth."""

from __future__ import annotations

import torch

from optimist.generation.result import TaskResult

MAX_COLUMNS = 12


def _show(ax, img: torch.Tensor) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)
    if img.shape[0] == 1:
        ax.imshow(img[0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(img.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")


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
        raise ValueError("results is empty: pass {model name: TaskResult}")
    first = next(iter(results.values()))
    rows = [("seed", first.seeds[:n])]
    rows += [(name, r.images[:n]) for name, r in results.items()]
    if first.reference is not None:
        rows.append(("ground truth", first.reference[:n]))
    return rows


def task_grid(results: dict[str, TaskResult], class_names: tuple[str, ...] | None = None, n: int = 10,
              title: str | None = None, columns: torch.Tensor | None = None):
    """One task: rows seed / model 1 / model 2 / ... / ground truth, ``n`` columns (the same examples).

    ``columns`` picks which examples to show (indices); default the first ``n``.
    """
    import matplotlib.pyplot as plt

    if columns is not None:
        results = {k: _select(r, columns) for k, r in results.items()}
    first = next(iter(results.values()))
    n = min(n, len(first), MAX_COLUMNS)
    rows = result_rows(results, n)
    fig, axes = plt.subplots(len(rows), n, figsize=(1.05 * n + 1.2, 1.1 * len(rows) + 0.5), squeeze=False)
    titles = column_titles(results, class_names, n)
    for i, (label, imgs) in enumerate(rows):
        for j in range(n):
            _show(axes[i][j], imgs[j])
            if i == 0:
                axes[i][j].set_title(titles[j], fontsize=7)
        axes[i][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def overview(all_results: dict[str, dict[str, TaskResult]], class_names: tuple[str, ...] | None = None,
             n: int = 8, columns: dict[str, torch.Tensor] | None = None):
    """Every task in one figure: a block of rows per task (seed, each model, ground truth), ``n`` columns."""
    import matplotlib.pyplot as plt

    blocks = []
    for task, results in all_results.items():
        if columns and task in columns:
            results = {k: _select(r, columns[task]) for k, r in results.items()}
        first = next(iter(results.values()))
        k = min(n, len(first))
        blocks.append((task, result_rows(results, k), column_titles(results, class_names, k)))
    total = sum(len(rows) for _, rows, _ in blocks)
    fig, axes = plt.subplots(total, n, figsize=(1.0 * n + 1.8, 1.1 * total), squeeze=False,
                             gridspec_kw={"hspace": 0.35, "wspace": 0.05})
    r = 0
    for task, rows, titles in blocks:
        for i, (label, imgs) in enumerate(rows):
            for j in range(n):
                ax = axes[r][j]
                if j < imgs.shape[0]:
                    _show(ax, imgs[j])
                    if i == 0:
                        ax.set_title(titles[j], fontsize=6, pad=2)
                else:
                    ax.axis("off")
            label_text = f"{task}\n{label}" if i == 0 else label
            axes[r][0].set_ylabel(label_text, rotation=0, ha="right", va="center", fontsize=7,
                                  fontweight="bold" if i == 0 else "normal")
            r += 1
    return fig


def _select(result: TaskResult, idx: torch.Tensor) -> TaskResult:
    """The examples ``idx`` of a result (for showing a chosen subset)."""
    def pick(t):
        return None if t is None else t[idx]

    return TaskResult(result.task, result.images[idx], result.objective[idx], result.seeds[idx],
                      result.seed_objective[idx], pick(result.targets), pick(result.reference), dict(result.settings),
                      {k: v[idx] for k, v in result.extras.items()})
