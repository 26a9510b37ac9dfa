"""Shared helpers for the benchmark scripts: interleaved repeats, medians, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

RESULTS = Path(__file__).parent / "results"


def interleaved(cases: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Time each case ``repeats`` times, alternating between cases so machine noise hits all alike."""
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def environment() -> dict:
    return {"torch": torch.__version__, "threads": torch.get_num_threads(), "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(), "cuda": torch.cuda.is_available(),
            "channels_last": os.environ.get("OPTIMIST_CHANNELS_LAST", "1") != "0", "time": time.strftime("%F %T")}


def save(name: str, df: pd.DataFrame, settings: dict) -> Path:
    """Write ``results/NAME.csv`` and ``results/NAME.json`` (table + settings + environment).

    Runs with ``OPTIMIST_CHANNELS_LAST=0`` (the "before" layout) are written as ``NAME-nchw``.
    """
    if os.environ.get("OPTIMIST_CHANNELS_LAST") == "0":
        name += "-nchw"
    RESULTS.mkdir(exist_ok=True)
    df.to_csv(RESULTS / f"{name}.csv", index=False)
    payload = {"settings": settings, "environment": environment(), "rows": df.to_dict(orient="records")}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str))
    return RESULTS / f"{name}.csv"


def markdown(df: pd.DataFrame) -> str:
    """A pipe table of ``df`` (numbers as printed by pandas), for docs and result files."""
    def cell(v) -> str:
        if isinstance(v, float):
            return "" if pd.isna(v) else f"{v:.0f}" if abs(v) >= 1000 else f"{v:.4g}"
        return str(v)

    cells = [[str(c) for c in df.columns]] + [[cell(v) for v in row] for row in df.itertuples(index=False)]
    lines = ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join([lines[0], "|" + "---|" * len(df.columns), *lines[1:]])
