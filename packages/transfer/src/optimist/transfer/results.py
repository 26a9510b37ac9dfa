"""Tables from the tidy results: means with intervals, accuracy per source, robust-minus-standard gains.

Intervals are two-sided Student-t intervals over seeds (95% by default). Gains are paired: for each seed
the robust source and the standard source were trained on the same k-shot images, so the interval is over
per-seed differences, which removes the sampling noise the two share.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from optimist.core.errors import InputError
from optimist.transfer.protocols import COLUMNS, PROTOCOLS, shots_order
from optimist.transfer.sources import Source, display_label

GROUP = ["target", "protocol", "shots", "source", "norm", "epsilon"]


def check_results(df: pd.DataFrame) -> None:
    """Raise ``ValueError`` if ``df`` is not a transfer results table (columns missing or empty)."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"not a transfer results table: missing columns {missing}")
    if df.empty:
        raise InputError("the results table is empty")


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float, float]:
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    """Targets in order of appearance, protocols as in PROTOCOLS, shots ascending, sources by norm/epsilon."""
    rank = {"none": 0, "linf": 1, "l2": 2}
    shots = {s: i for i, s in enumerate(shots_order(df["shots"]))}
    targets = {t: i for i, t in enumerate(dict.fromkeys(df["target"]))}
    protocols = {p: i for i, p in enumerate(PROTOCOLS)}
    keys = dict(_t=df["target"].map(targets), _p=df["protocol"].map(protocols).fillna(len(PROTOCOLS)),
                _s=df["shots"].astype(str).map(shots), _n=df["norm"].map(rank).fillna(3))
    return (df.assign(**keys).sort_values(["_t", "_p", "_s", "_n", "epsilon"], kind="stable")
              .drop(columns=list(keys)).reset_index(drop=True))


def summarise(df: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Mean accuracy, its interval over seeds and the number of seeds per (target, protocol, shots, source)."""
    check_results(df)
    rows = []
    for key, g in df.groupby(GROUP, sort=False):
        mean, lo, hi = _interval(g["accuracy"].to_numpy(), confidence)
        first = g.iloc[0]
        rows.append({**dict(zip(GROUP, key)), "accuracy": mean, "ci_low": lo, "ci_high": hi, "seeds": len(g),
                     "source_clean": first["source_clean"], "source_robust": first["source_robust"]})
    return _ordered(pd.DataFrame(rows))


def accuracy_table(df: pd.DataFrame, protocol: str | None = None, digits: int = 3) -> pd.DataFrame:
    """Wide table: one row per (target, protocol, shots), one column per source, mean accuracy (± half-CI).

    Examples
    --------
    >>> import torch
    >>> from optimist.core.data import from_tensors
    >>> from optimist.core.models import build_model
    >>> toy = from_tensors(torch.rand(8, 1, 28, 28), torch.arange(8) % 2, name="toy")
    >>> from optimist.transfer import dataset_target, run_transfer, source_from_model
    >>> sources = [source_from_model(build_model("small-cnn", 10, 1, 28).eval(), "net")]
    >>> df = run_transfer(sources, [dataset_target("toy", toy, toy)], shots=[2], seeds=[0], Cs=[1.0], folds=2,
    ...                   progress=False)
    >>> accuracy_table(df).shape
    (1, 1)
    """
    s = summarise(df)
    if protocol is not None:
        s = s[s["protocol"] == protocol]
    s = s.assign(model=[display_label(n, e) for n, e in zip(s["norm"], s["epsilon"])])
    s["cell"] = [f"{m:.{digits}f}" if math.isnan(lo) else f"{m:.{digits}f} ± {(hi - lo) / 2:.{digits}f}"
                 for m, lo, hi in zip(s["accuracy"], s["ci_low"], s["ci_high"])]
    rows = list(dict.fromkeys(zip(s["target"], s["protocol"], s["shots"])))
    wide = s.pivot(index=["target", "protocol", "shots"], columns="model", values="cell")
    wide = wide.reindex(pd.MultiIndex.from_tuples(rows, names=["target", "protocol", "shots"]))
    return wide[list(dict.fromkeys(s["model"]))]



def gain_verdict(low: float, high: float, *, better: str = "better", worse: str = "worse",
                 missing: str = "single run") -> str:
    """What a gain's interval says: ``better`` above 0, ``worse`` below, "no clear difference" across it, and
    ``missing`` when there is no interval (NaN bounds)."""
    if math.isnan(low):
        return missing
    return better if low > 0 else worse if high < 0 else "no clear difference"


def gains(df: pd.DataFrame, baseline_norm: str = "none", confidence: float = 0.95) -> pd.DataFrame:
    """Paired accuracy gain of every robust source over the standard one, per (target, protocol, shots).

    Columns: ``gain`` (mean over seeds, in accuracy points of [0, 1]), ``ci_low``/``ci_high`` and
    ``verdict`` ("robust better", "standard better" or "no clear difference": does the interval exclude 0).

    Examples
    --------
    >>> import torch
    >>> from optimist.core.data import from_tensors
    >>> from optimist.core.models import build_model
    >>> toy = from_tensors(torch.rand(8, 1, 28, 28), torch.arange(8) % 2, name="toy")
    >>> from optimist.transfer import dataset_target, run_transfer, source_from_model
    >>> sources = [source_from_model(build_model("small-cnn", 10, 1, 28).eval(), "net")]
    >>> df = run_transfer(sources, [dataset_target("toy", toy, toy)], shots=[2], seeds=[0], Cs=[1.0], folds=2,
    ...                   progress=False)
    >>> robust = df.assign(source="robust", norm="linf", epsilon=0.1, accuracy=df["accuracy"] + 0.1)
    >>> import pandas as pd
    >>> gains(pd.concat([df, robust]))["source"].tolist()
    ['robust']
    """
    check_results(df)
    base = df[df["norm"] == baseline_norm]
    if base.empty:
        raise InputError(f"no baseline source with norm {baseline_norm!r} in the results")
    key = ["target", "protocol", "shots", "seed"]
    base = base.groupby(key, as_index=False)["accuracy"].mean().rename(columns={"accuracy": "baseline"})
    merged = df[df["norm"] != baseline_norm].merge(base, on=key)
    rows = []
    for k, g in merged.groupby(["target", "protocol", "shots", "source", "norm", "epsilon"], sort=False):
        diff = (g["accuracy"] - g["baseline"]).to_numpy()
        mean, lo, hi = _interval(diff, confidence)
        verdict = gain_verdict(lo, hi, better="robust better", worse="standard better")
        rows.append({**dict(zip(["target", "protocol", "shots", "source", "norm", "epsilon"], k)),
                     "standard": float(g["baseline"].mean()), "robust": float(g["accuracy"].mean()),
                     "gain": mean, "ci_low": lo, "ci_high": hi, "seeds": len(g), "verdict": verdict})
    if not rows:
        raise InputError("no robust source to compare with the baseline")
    return _ordered(pd.DataFrame(rows))


def source_table(sources: list[Source]) -> pd.DataFrame:
    """The sources' own accuracy on their training task: clean and PGD accuracy from their cards."""
    threats = list(dict.fromkeys(t for s in sources for t in s.robust_accuracy))
    rows = []
    for s in sources:
        row = {"source": s.name, "model": s.label, "clean": s.clean_accuracy}
        row.update({f"PGD {t}": s.robust_accuracy.get(t, math.nan) for t in threats})
        rows.append(row)
    return pd.DataFrame(rows).set_index("source")


def save_results(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the tidy results as CSV (creating folders); returns the path.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.data import from_tensors
    >>> from optimist.core.models import build_model
    >>> toy = from_tensors(torch.rand(8, 1, 28, 28), torch.arange(8) % 2, name="toy")
    >>> from optimist.transfer import dataset_target, run_transfer, source_from_model
    >>> sources = [source_from_model(build_model("small-cnn", 10, 1, 28).eval(), "net")]
    >>> df = run_transfer(sources, [dataset_target("toy", toy, toy)], shots=[2], seeds=[0], Cs=[1.0], folds=2,
    ...                   progress=False)
    >>> import tempfile
    >>> save_results(df, tempfile.mkdtemp() + "/results.csv").name
    'results.csv'
    """
    check_results(df)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def load_results(path: str | Path) -> pd.DataFrame:
    """Read a results CSV back with ``shots`` as text (so "all" and numbers share one column).

    Examples
    --------
    >>> import torch
    >>> from optimist.core.data import from_tensors
    >>> from optimist.core.models import build_model
    >>> toy = from_tensors(torch.rand(8, 1, 28, 28), torch.arange(8) % 2, name="toy")
    >>> from optimist.transfer import dataset_target, run_transfer, source_from_model
    >>> sources = [source_from_model(build_model("small-cnn", 10, 1, 28).eval(), "net")]
    >>> df = run_transfer(sources, [dataset_target("toy", toy, toy)], shots=[2], seeds=[0], Cs=[1.0], folds=2,
    ...                   progress=False)
    >>> import tempfile
    >>> path = save_results(df, tempfile.mkdtemp() + "/results.csv")
    >>> load_results(path)["shots"].tolist()
    ['2']
    """
    df = pd.read_csv(path, dtype={"shots": str})
    check_results(df)
    return df
