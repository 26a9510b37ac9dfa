"""The measurement behind the default budgets: each task's judges over a grid of L2 radii and step counts.

    python -m optimist.generation.sweep --out packages/generation/src/optimist/generation/data/sweep.csv

runs :func:`sweep` on the demo's models (the zoo's standard and L2-robust small CNNs) for every task and writes
the table the report's sweep figure is drawn from (:func:`sweep_figure`); the shipped CSV is that command's
output, and the demo draws it with the command beside it.
"""

from __future__ import annotations

import argparse
import itertools
import math
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd
from torch import nn

from optimist.core import zoo
from optimist.core.errors import InputError
from optimist.core.zoo import display_name
from optimist.generation import APPLICATION
from optimist.generation._application import compare
from optimist.generation.sweep_table import METRICS, SHIPPED, choose

#: the grid per task: L2 radii (inf: unbounded, then the step size below) and step counts
GRID = {
    "class-generation": {"eps": (2.89, 5.0, 8.0, 12.0), "steps": (50, 100)},
    "translation": {"eps": (5.77, 8.0, 12.0), "steps": (100,)},
    "sketch-to-image": {"eps": (2.89, 5.0, 8.0, 12.0), "steps": (100,)},
    "inpainting": {"eps": (1.56, 3.0, 5.0), "steps": (100,)},
    "super-resolution": {"eps": (0.58, 1.5, 3.0, 5.0), "steps": (100,)},
    "inversion": {"eps": (math.inf,), "steps": (120, 300), "step_size": (0.15, 0.5)},
}


def sweep(models: Mapping[str, nn.Module | str], data="fashion-mnist", *, task: str, eps: Sequence[float],
          steps: Sequence[int], step_size: Sequence[float] | None = None, seed: int = 0, **settings) -> pd.DataFrame:
    """``compare`` on ``task`` alone for every (eps, steps[, step_size]); its table with those three columns added.

    Bounded radii without ``step_size`` get 2.5 eps / steps; an unbounded one (``math.inf``) needs ``step_size``.
    """
    if not eps or not steps:
        raise InputError("eps and steps need at least one value each")
    if any(math.isinf(e) for e in eps) and not step_size:
        raise InputError("an unbounded eps (inf) needs step_size values")
    tables = []
    for e, k, a in itertools.product(eps, steps, step_size or (None,)):
        text = f"{task}:eps={e},steps={k}" + ("" if a is None else f",step_size={a}")
        r = compare(models, data, seed=seed, progress=False, tasks=(task,), budget=(text,), figures=False,
                    **settings)
        t = r.table.assign(eps=e, steps=k, step_size=r.settings["budgets"][task]["step_size"])
        tables.append(t)
    return pd.concat(tables, ignore_index=True)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=SHIPPED)
    p.add_argument("--tasks", nargs="*", default=list(GRID))
    p.add_argument("--n", type=int, default=30)
    p.add_argument("--per-class", type=int, default=3)
    args = p.parse_args(argv)
    models = {display_name(n): zoo.get(n, progress=False) for n in APPLICATION.demo_models}
    tables = []
    for task in args.tasks:
        grid = GRID[task]
        t = sweep(models, task=task, eps=grid["eps"], steps=grid["steps"], step_size=grid.get("step_size"),
                  n=args.n, per_class=args.per_class, reference_size=1000, bootstrap=20)
        tables.append(t)
        print(t[t["metric"].isin(METRICS)].pivot_table(index=["eps", "steps", "step_size", "model"],
                                                        columns="metric", values="value").round(3), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table = pd.concat(tables, ignore_index=True)
    table.to_csv(args.out, index=False)
    print(f"wrote {args.out}\nthe defaults this table chooses (optimist.generation.sweep_table.choose):")
    print(choose(table).round(3).to_string())


if __name__ == "__main__":
    main()
