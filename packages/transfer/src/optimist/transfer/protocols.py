"""The transfer experiment: every source x target x protocol x shots x seed, as one tidy DataFrame.

Protocols:
- ``linear``: fixed features; a cross-validated logistic-regression probe on the penultimate features.
- ``finetune-full`` / ``finetune-last``: fine-tune all weights / the last block and a new head (same budget).

Shots ``k`` train on exactly k labelled target images per class (the few-shot protocol); ``"all"`` uses
the whole target training pool. A k-shot sample depends only on the target labels and the seed, so for a
given seed every source sees the same images (a paired comparison). The linear probe on ``"all"`` is
deterministic, so it runs once (the first seed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from optimist.core.errors import InputError
from optimist.core.settings import Settings, setting
from optimist.transfer.features import FeatureCache, dataset_fingerprint, extract_features
from optimist.transfer.finetune import FinetuneConfig, finetune_accuracy
from optimist.transfer.probe import DEFAULT_CS, fit_probe, probe_accuracy
from optimist.transfer.sources import Source
from optimist.transfer.splits import Target, k_shot_indices, labels_of

PROTOCOLS = ("linear", "finetune-full", "finetune-last")
ALL = "all"
DEFAULT_SHOTS: tuple = (1, 5, 10, 25, 100, ALL)
COLUMNS = ("source", "epsilon", "norm", "target", "protocol", "shots", "seed", "accuracy", "n_train",
           "source_clean", "source_robust", "source_threat")
_FT_MODE = {"finetune-full": "full", "finetune-last": "last-block"}


def parse_shots(shots: Iterable) -> list:
    """Validate a shots list: positive integers and/or ``"all"``; returns them ascending with "all" last."""
    out = []
    for k in shots:
        if isinstance(k, str) and k.lower() == ALL:
            out.append(ALL)
            continue
        try:
            v = int(k)
        except (TypeError, ValueError):
            raise InputError(f"shots must be positive integers or 'all', got {k!r}") from None
        if v < 1 or v != float(k):
            raise InputError(f"shots must be positive integers or 'all', got {k!r}")
        out.append(v)
    if not out:
        raise InputError("give at least one shots value")
    ints = sorted({k for k in out if k != ALL})
    return ints + ([ALL] if ALL in out else [])


def shots_order(values: Iterable) -> list[str]:
    """Shots labels sorted numerically with "all" last (for tables and plots)."""
    vals = {str(v) for v in values}
    return sorted((v for v in vals if v != ALL), key=int) + ([ALL] if ALL in vals else [])


def _check_protocols(protocols: Sequence[str]) -> list[str]:
    bad = [p for p in protocols if p not in PROTOCOLS]
    if bad or not protocols:
        raise InputError(f"unknown protocol(s) {bad or protocols}; choose from {', '.join(PROTOCOLS)}")
    return list(dict.fromkeys(protocols))


def _plan(labels: np.ndarray, shots: list, seeds: Sequence[int], target: Target) -> list[tuple]:
    """(shots label, seed, indices or None) for every few-shot sample; raises if a class is too small."""
    counts = np.bincount(labels, minlength=target.num_classes)
    plan = []
    for k in shots:
        if k == ALL:
            plan += [(ALL, s, None) for s in seeds]
            continue
        if k > counts.min():
            raise InputError(f"{k} shots asked but target {target.name!r} has only {counts.min()} training "
                             "images in its smallest class; lower the shots or raise the training pool")
        plan += [(str(k), s, k_shot_indices(labels, k, seed=s, num_classes=target.num_classes)) for s in seeds]
    return plan


def _fingerprint(dataset, memo: dict) -> str | None:
    """Hash each target split once per run, not once per source (None: extract_features decides)."""
    if id(dataset) not in memo:
        try:
            memo[id(dataset)] = dataset_fingerprint(dataset)
        except ValueError:
            memo[id(dataset)] = None
    return memo[id(dataset)]


def _row(source: Source, target: Target, protocol: str, shots: str, seed: int, acc: float, n_train: int,
         threat: str | None) -> dict:
    thr, robust = source.robust_at(threat)
    return {"source": source.name, "epsilon": source.epsilon, "norm": source.norm, "target": target.name,
            "protocol": protocol, "shots": shots, "seed": int(seed), "accuracy": float(acc),
            "n_train": int(n_train), "source_clean": source.clean_accuracy, "source_robust": robust,
            "source_threat": thr}


@dataclass(frozen=True)
class TransferRunSettings(Settings):
    """What :func:`run_transfer` runs; pass one as ``settings=`` or give any field as a keyword."""

    protocols: tuple[str, ...] = setting(("linear",), "linear, finetune-last and/or finetune-full")
    shots: Any = setting(DEFAULT_SHOTS, "labelled images per class (ints and/or all)")
    seeds: tuple[int, ...] = setting((0, 1, 2), "seeds of the few-shot draws")
    Cs: tuple[float, ...] = setting(DEFAULT_CS, "inverse regularisation strengths the probe cross-validates")
    folds: int = setting(3, "cross-validation folds of the probe")
    source_threat: Optional[str] = setting(None, "card evaluation that fills source_robust")


def run_transfer(
    sources: Sequence[Source],
    targets: Sequence[Target],
    *,
    settings: TransferRunSettings | None = None,
    finetune_config: FinetuneConfig | None = None,
    cache: FeatureCache | bool | None = None,
    device: str = "cpu",
    progress: bool = True,
    **options: Any,
) -> pd.DataFrame:
    """Run every protocol for every source on every target; one row per (…, shots, seed) with its accuracy.

    ``source_threat`` picks which of the sources' card evaluations fills ``source_robust`` (default: the
    first threat the card lists; for Fashion-MNIST zoo models that is L∞ 0.1).

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
    >>> df[["source", "protocol", "shots"]].values.tolist()
    [['net', 'linear', '2']]
    """
    s = TransferRunSettings.merged(settings, options)
    protocols, shots, seeds, Cs, folds, source_threat = s.protocols, s.shots, s.seeds, s.Cs, s.folds, s.source_threat
    if not sources or not targets:
        raise InputError("give at least one source and one target")
    protocols = _check_protocols(protocols)
    shots = parse_shots(shots)
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    if not seeds:
        raise InputError("give at least one seed")
    ft_config = finetune_config or FinetuneConfig()
    rows = []
    jobs = []
    for target in targets:
        labels = labels_of(target.train)
        plan = _plan(labels, shots, seeds, target)
        for protocol in protocols:
            for shot, seed, idx in plan:
                if protocol == "linear" and shot == ALL and seed != seeds[0]:
                    continue  # the full-data probe is deterministic
                jobs += [(target, protocol, shot, seed, idx, src) for src in sources]
    feats: dict = {}
    data_keys: dict = {}
    bar = tqdm(jobs, desc="transfer", disable=not progress)
    for target, protocol, shot, seed, idx, src in bar:
        bar.set_postfix_str(f"{target.name} {protocol} {shot}-shot {src.label}")
        n_train = len(target.train) if idx is None else len(idx)
        if protocol == "linear":
            key = (id(src), target.name)
            if key not in feats:
                feats[key] = tuple(
                    extract_features(src.model, ds, cache=cache, label=f"{target.name}-{split}",
                                     fingerprint=_fingerprint(ds, data_keys), device=device)
                    for split, ds in (("train", target.train), ("test", target.test)))
            (x_tr, y_tr), (x_te, y_te) = feats[key]
            if idx is not None:
                x_tr, y_tr = x_tr[idx], y_tr[idx]
            pipe = fit_probe(x_tr, y_tr, Cs=Cs, folds=folds, seed=seed)
            acc = probe_accuracy(pipe, x_te, y_te)
        else:
            acc = finetune_accuracy(src.model, target.train, target.test, mode=_FT_MODE[protocol],
                                    config=ft_config, seed=seed,
                                    train_indices=idx, device=device)
        rows.append(_row(src, target, protocol, shot, seed, acc, n_train, source_threat))
    return pd.DataFrame(rows, columns=list(COLUMNS))
