"""Means with 95% intervals over images, and paired differences between models on the same images."""

from __future__ import annotations

import pandas as pd

from optimist.core.errors import InputError
from optimist.core.stats import t_interval


def summarise(per_example: pd.DataFrame, by=("model", "method", "metric")) -> pd.DataFrame:
    """Long table of mean, ci_low, ci_high and n per group of the per-example ``value`` column."""
    rows = []
    for key, g in per_example.groupby(list(by), sort=False):
        m, lo, hi = t_interval(g["value"].to_numpy())
        rows.append({**dict(zip(by, key)), "mean": m, "ci_low": lo, "ci_high": hi, "n": int(g["value"].notna().sum())})
    return pd.DataFrame(rows)


def paired_differences(per_example: pd.DataFrame, reference: str) -> pd.DataFrame:
    """For every other model: mean of (model − reference) per image, with its 95% interval.

    Pairs are matched on (method, metric, image), so image-to-image variation cancels out.
    """
    models = list(dict.fromkeys(per_example["model"]))
    if reference not in models:
        raise InputError(f"reference model {reference!r} is not among the compared models {models}")
    ref = per_example[per_example["model"] == reference].set_index(["method", "metric", "image"])["value"]
    rows = []
    for name in models:
        if name == reference:
            continue
        other = per_example[per_example["model"] == name].set_index(["method", "metric", "image"])["value"]
        diff = (other - ref.reindex(other.index)).dropna()
        for (method, metric), g in diff.groupby(level=["method", "metric"], sort=False):
            m, lo, hi = t_interval(g.to_numpy())
            rows.append({"model": name, "reference": reference, "method": method, "metric": metric,
                         "difference": m, "ci_low": lo, "ci_high": hi, "n": len(g)})
    return pd.DataFrame(rows)
