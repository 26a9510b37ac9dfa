"""Intervals every application reports: Student-t, Wilson, paired and Welch, all at 95% by default.

>>> from optimist.core.stats import proportion_interval, t_interval
>>> round(t_interval([1.0, 2.0, 3.0])[0], 3)
2.0
>>> [round(v, 3) for v in proportion_interval([1, 1, 0, 1])]
[0.75, 0.301, 0.954]
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats

from optimist.core.errors import InputError

__all__ = ["paired_interval", "proportion_interval", "t_interval", "welch_interval"]


def t_interval(values: Sequence[float] | np.ndarray, *, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its Student-t interval; NaN values are dropped, fewer than 2 give NaN bounds."""
    if not 0 < confidence < 1:
        raise InputError(f"confidence must lie in (0, 1), got {confidence}")
    v = np.asarray(values, dtype=float).ravel()
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if len(v) < 2:
        return m, math.nan, math.nan
    sd = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(v) - 1) * sd / math.sqrt(len(v)))
    return m, m - half, m + half


def proportion_interval(values: Sequence[float] | np.ndarray, *,
                        confidence: float = 0.95) -> tuple[float, float, float]:
    """(rate, low, high) for 0/1 outcomes (correct, fooled): the Wilson score interval, which stays in [0, 1].

    Values other than 0 and 1 are an error: use :func:`t_interval` for means of other quantities.
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    if not np.isin(v, (0.0, 1.0)).all():
        raise InputError("proportion_interval takes 0/1 outcomes; use t_interval for other values")
    n, p = len(v), float(v.mean())
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def paired_interval(a: Sequence[float], b: Sequence[float], *,
                    confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``a - b`` over matched items (the same images) with its Student-t interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise InputError(f"paired values need equal shapes, got {a.shape} and {b.shape}")
    return t_interval(a - b, confidence=confidence)


def welch_interval(a: Sequence[float], b: Sequence[float], *,
                   confidence: float = 0.95) -> tuple[float, float, float]:
    """Difference of means ``mean(a) - mean(b)`` of two independent groups (e.g. models trained with different
    seeds) with its Welch interval (unequal variances, Welch-Satterthwaite degrees of freedom); NaN values are
    dropped, a group with fewer than 2 values gives NaN bounds."""
    if not 0 < confidence < 1:
        raise InputError(f"confidence must lie in (0, 1), got {confidence}")
    a, b = (np.asarray(v, dtype=float).ravel() for v in (a, b))
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        return math.nan, math.nan, math.nan
    d = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return d, math.nan, math.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return d, d, d
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df) * se)
    return d, d - half, d + half
