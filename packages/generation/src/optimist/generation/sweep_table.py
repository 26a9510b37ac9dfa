"""The saved sweep table: where the shipped one lives, the rule that chose the default budgets, and its figure.

:mod:`optimist.generation.sweep` measures the table; the demo only reads and draws it.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from optimist.core.errors import InputError

SHIPPED = Path(__file__).parent / "data" / "sweep.csv"
COMMAND = "python -m optimist.generation.sweep --out " + "packages/generation/src/optimist/generation/data/sweep.csv"
METRICS = ("evaluator accuracy", "noised accuracy", "knn accuracy", "realism")


def choose(table: pd.DataFrame, *, robust: str = "L2 3", standard: str = "standard") -> pd.DataFrame:
    """The rule that set the default budgets: per task, the grid point with the largest sum of the robust model's
    margins over the standard one on the two pixel judges (k-NN accuracy gained plus realism lowered), among the
    points where both margins are positive (all points when none is). One row per task: eps, steps, step_size
    and the two margins."""
    need = {"task", "model", "metric", "value", "eps", "steps", "step_size"}
    if not need <= set(table.columns):
        raise InputError(f"a sweep table needs columns {sorted(need)}, got {sorted(table.columns)}")
    models = set(table["model"])
    if not {robust, standard} <= models:
        raise InputError(f"the sweep table has models {sorted(models)}; need {robust!r} and {standard!r}")
    keys = ["task", "eps", "steps", "step_size"]
    wide = table[table["metric"].isin(["knn accuracy", "realism"])].pivot_table(index=keys, columns=["metric", "model"],
                                                                              values="value")
    margins = pd.DataFrame({"knn margin": wide[("knn accuracy", robust)] - wide[("knn accuracy", standard)],
                            "realism margin": wide[("realism", standard)] - wide[("realism", robust)]})
    margins["sum"] = margins["knn margin"] + margins["realism margin"]
    rows = []
    for _, m in margins.groupby(level="task", sort=False):
        both = m[(m["knn margin"] > 0) & (m["realism margin"] > 0)]
        best = (both if len(both) else m)["sum"].idxmax()
        rows.append({**dict(zip(keys, best)), **m.loc[best].to_dict()})
    return pd.DataFrame(rows).set_index("task")


def sweep_figure(table: pd.DataFrame, command: str = COMMAND):
    """One row of panels per task (columns: the judges), each judge against eps (or step size when unbounded),
    a line per model and step count; the command that measured the table is in the title."""
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(table["task"]))
    fig, axes = plt.subplots(len(tasks), len(METRICS), figsize=(3.1 * len(METRICS), 2.3 * len(tasks) + 0.6),
                             squeeze=False, layout="constrained")
    for i, task in enumerate(tasks):
        t = table[table["task"] == task]
        x = "step_size" if t["eps"].map(math.isinf).all() else "eps"
        for j, metric in enumerate(METRICS):
            ax = axes[i, j]
            m = t[t["metric"] == metric]
            for (model, steps), g in m.groupby(["model", "steps"], sort=False):
                g = g.sort_values(x)
                line = ax.plot(g[x], g["value"], marker="o", ms=3,
                               ls="-" if "standard" not in str(model) else "--", label=f"{model}, {steps} steps")
                ax.fill_between(g[x], g["low"], g["high"], color=line[0].get_color(), alpha=0.12)
            ax.set_title(f"{task}: {metric}", fontsize=8)
            ax.set_xlabel("L2 eps" if x == "eps" else "step size (unbounded)", fontsize=7)
            ax.tick_params(labelsize=6)
            if i == 0 and j == 0:
                ax.legend(fontsize=5)
    fig.suptitle(f"measured by: {command}", fontsize=8)
    return fig


__all__ = ["COMMAND", "METRICS", "SHIPPED", "choose", "sweep_figure"]
