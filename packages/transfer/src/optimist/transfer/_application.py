"""``compare``: do the models' features transfer to a target task? In the application contract."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Mapping, Optional

import numpy as np
import pandas as pd
import torch
from torch import nn

from optimist.core.application import (
    Chunk,
    Result,
    Run,
    claim,
    claim_pair,
    prepare,
    resolve_data,
)
from optimist.core.data import ImageTensorDataset, from_tensors, subset
from optimist.core.errors import SettingsError
from optimist.core.settings import Settings, setting
from optimist.core.stats import t_interval
from optimist.transfer.features import FeatureCache, compute_features, dataset_fingerprint, model_fingerprint
from optimist.transfer.figures import interval_bars
from optimist.transfer.finetune import FinetuneConfig
from optimist.transfer.protocols import ALL, PROTOCOLS, parse_shots, run_transfer
from optimist.transfer.results import gain_verdict
from optimist.transfer.sources import source_from_model
from optimist.transfer.splits import Target, _cap_per_class


@dataclass(frozen=True)
class TransferSettings(Settings):
    """The target task and the transfer protocols of ``optimist.transfer.compare``."""

    n: int = setting(0, "target test images (0: all of the test split)", minimum=0)
    classes: tuple[int, ...] = setting((), "target classes of the data to keep, relabelled 0..k-1 (empty: all)",
                                       minimum=0)
    train_data: str = setting("", "data spec of the target's training pool (empty: split the data itself)")
    test_fraction: float = setting(0.5, "share of the data held out for testing when train_data is empty",
                                   minimum=0.05, maximum=0.95)
    train_per_class: int = setting(1000, "cap on training images per class (0: no cap)", minimum=0)
    protocols: tuple[str, ...] = setting(("linear",), "linear (fixed-feature probe), finetune-full, finetune-last",
                                         choices=PROTOCOLS)
    shots: tuple[int | str, ...] = setting((1, 5, 10, 25, 100, "all"),
                                           "labelled training images per class (integers or all)")
    seeds: int = setting(3, "few-shot draws (and fine-tuning seeds) per shots value", minimum=1)
    finetune_steps: int = setting(300, "optimiser steps per fine-tuning run", minimum=1)
    folds: int = setting(3, "cross-validation folds choosing the probe's C", minimum=2)
    batch_size: Optional[int] = setting(None, "images per batch of feature extraction and fine-tuning (default: "
                                              "chosen from the models and the image size, to bound memory)",
                                        minimum=1)

    def validate(self) -> None:
        try:
            parse_shots(self.shots)
        except ValueError as e:
            raise SettingsError(f"setting 'shots': {e}") from e


def _split(ds: ImageTensorDataset, fraction: float, seed: int) -> tuple[ImageTensorDataset, ImageTensorDataset]:
    """Stratified, seeded split of one dataset into a training pool and a test set."""
    g = np.random.default_rng(seed)
    y = ds.targets.numpy()
    test_idx = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        g.shuffle(idx)
        test_idx.extend(idx[: max(1, int(round(fraction * len(idx))))].tolist())
    mask = np.zeros(len(y), dtype=bool)
    mask[test_idx] = True
    pick = lambda m: ImageTensorDataset(ds.images[torch.from_numpy(m)], ds.targets[torch.from_numpy(m)], ds.info)  # noqa: E731
    return pick(~mask), pick(mask)


def _target(data, s: TransferSettings, seed: int) -> Target:
    test = resolve_data(data)
    if s.train_data:
        train = resolve_data(s.train_data, split="train")
    else:
        train, test = _split(test, s.test_fraction, seed)
    if s.classes:
        missing = sorted(set(s.classes) - set(test.targets.unique().tolist()))
        if missing:
            raise SettingsError(f"setting 'classes': the data has no class {missing}")
        train, test = subset(train, classes=list(s.classes)), subset(test, classes=list(s.classes))
    if s.train_per_class:
        train = _cap_per_class(train, s.train_per_class, seed)
    if s.n:
        test = subset(test, min(s.n, len(test)), seed=seed)
    name = test.info.name + (f"-classes-{'-'.join(map(str, s.classes))}" if s.classes else "")
    return Target(name, train, test)


def _target_and_test(data, s: TransferSettings, seed: int) -> tuple[Target, object]:
    target = _target(data, s, seed)
    return target, target.test


def _rows(df: pd.DataFrame, labels: dict[str, str], n_test: int) -> pd.DataFrame:
    rows = []
    for (protocol, shots, source), g in df.groupby(["protocol", "shots", "source"], sort=False):
        acc = g["accuracy"].to_numpy()
        if len(acc) > 1:
            v, lo, hi = t_interval(acc)
            over = "seeds"
        else:  # one run (all labels): the binomial interval over the test images
            v = float(acc[0])
            half = 1.96 * math.sqrt(max(v * (1 - v), 1e-12) / n_test)
            lo, hi, over = max(0.0, v - half), min(1.0, v + half), "test images"
        rows.append({"model": labels[source], "measurement": f"target accuracy ({protocol}, {shots}-shot)",
                     "value": v, "low": lo, "high": hi, "n": len(acc) if over == "seeds" else n_test,
                     "protocol": protocol, "shots": str(shots), "interval over": over})
    return pd.DataFrame(rows)


def _gains(df: pd.DataFrame, labels: dict[str, str], reference: str) -> pd.DataFrame:
    rows = []
    ref = df[df["source"] == reference].set_index(["protocol", "shots", "seed"])["accuracy"]
    for source, g in df[df["source"] != reference].groupby("source", sort=False):
        g = g.set_index(["protocol", "shots", "seed"])["accuracy"]
        diff = (g - ref.reindex(g.index)).dropna()
        for (protocol, shots), d in diff.groupby(level=["protocol", "shots"], sort=False):
            m, lo, hi = t_interval(d.to_numpy())
            rows.append({"model": labels[source], "reference": labels[reference], "protocol": protocol,
                         "shots": str(shots), "gain": m, "ci_low": lo, "ci_high": hi, "seeds": len(d),
                         "verdict": gain_verdict(lo, hi)})
    return pd.DataFrame(rows)


def _claims(df: pd.DataFrame, labels: dict[str, str], pair: tuple[str, str], shots: list) -> pd.DataFrame:
    """Utrera et al.'s claim at the fewest and the most labels drawn per seed (paired over the seeds): robust
    features transfer better with few labels (with many, they find the gain vanishes: expect ≈ there)."""
    by_label = {v: k for k, v in labels.items()}
    std, rob = by_label[pair[0]], by_label[pair[1]]
    drawn = [k for k in shots if k != ALL] or list(shots)
    picks = list(dict.fromkeys([drawn[0], drawn[-1]]))
    texts = {drawn[0]: f"Robust features transfer better with few labels ({drawn[0]} per class)",
             drawn[-1]: f"... and with many ({drawn[-1]} per class; Utrera et al. find the gain vanishes)"}
    rows = []
    shot_text = df["shots"].astype(str)
    for protocol in dict.fromkeys(df["protocol"]):
        for k in picks:
            sel = (df["protocol"] == protocol) & (shot_text == str(k))
            a = df[sel & (df["source"] == rob)].set_index("seed")
            b = df[sel & (df["source"] == std)].set_index("seed")
            if a.empty or b.empty:
                continue
            diff = (a["accuracy"] - b["accuracy"].reindex(a.index)).dropna().to_numpy()
            _, lo, hi = t_interval(diff)
            rows.append(claim(texts[k], f"target accuracy ({protocol}, {k}-shot)", float(b["accuracy"].mean()),
                              float(a["accuracy"].mean()), lo, hi, robust_label=pair[1], standard_label=pair[0]))
    return pd.DataFrame(rows)


def compare(models: Mapping[str, nn.Module | str], data="fashion-mnist", *, device=None, progress: bool = True,
            seed: int = 0, **settings) -> Result:
    """Linear probes (and optionally fine-tuning) on each model's penultimate features for a target task.

    ``data`` is the target: split into a training pool and a test set (or with ``train_data`` as the pool), its
    labels need not be the models' classes. Few-shot draws use the same images for every model at each seed.
    The first model is the reference of the paired gains.

    Examples
    --------
    >>> # skipped when run as a doctest: it fetches (or trains) zoo models (minutes)
    >>> result = compare({"standard": "zoo:fashion-mnist/small-cnn/standard",
    ...                   "robust": "zoo:fashion-mnist/small-cnn/linf-0.1"}, "fashion-mnist?n=200")  # doctest: +SKIP
    """
    s = TransferSettings.from_mapping(settings)
    with prepare("transfer", models, data, settings=s, device=device, seed=seed, progress=progress,
                 data_resolver=lambda d: _target_and_test(d, s, seed), labels=False,
                 classifiers=True) as run:
        return _transfer(run)


def _features_of(model: nn.Module, device, chunk: Chunk, x: torch.Tensor, y: torch.Tensor):
    return compute_features(model, from_tensors(x, y), batch_size=len(x), device=device)


def _extracted(run: Run, target: Target) -> FeatureCache:
    """Every model's features of the target's two splits, extracted in bounded chunks shared out over the
    processes (``run.map``), in the in-memory cache that the probes then read from."""
    cache = FeatureCache()
    for label, model in run.models.items():
        for split, ds in (("train", target.train), ("test", target.test)):
            value = run.map(partial(_features_of, model, run.device), ds.images, ds.targets,
                            desc=f"{label}: {split} features")
            cache.store(model_fingerprint(model), dataset_fingerprint(ds), f"{target.name}-{split}", value)
    return cache


def _transfer(run: Run) -> Result:
    s, named, target, seed, device, progress = run.settings, run.models, run.data, run.seed, run.device, run.progress
    shots = parse_shots(s.shots)
    seeds = [seed + i for i in range(s.seeds)]
    sources = [source_from_model(m, label) for label, m in named.items()]
    labels = {src.name: label for src, label in zip(sources, named)}
    frames = []
    linear = [p for p in s.protocols if p == "linear"]
    tuned = [p for p in s.protocols if p != "linear"]
    progress = progress and run.is_main
    if linear:
        frames.append(run_transfer(sources, [target], protocols=linear, shots=shots, seeds=seeds, folds=s.folds,
                                   cache=_extracted(run, target), device=str(device), progress=progress))
    if tuned:  # each fine-tuning run is one sequential optimisation: made alike on every process
        config = FinetuneConfig(steps=s.finetune_steps, batch_size=min(64, run.batch_size),
                                eval_batch_size=run.batch_size)
        frames.append(run_transfer(sources, [target], protocols=tuned, shots=shots, seeds=seeds,
                                   finetune_config=config, cache=False, device=str(device), progress=progress))
    df = pd.concat(frames, ignore_index=True)
    table = _rows(df, labels, len(target.test))
    pair = claim_pair(named)
    claims = _claims(df, labels, pair, shots) if pair else pd.DataFrame()
    reference = sources[0].name
    gains = _gains(df, labels, reference) if len(sources) > 1 else pd.DataFrame()
    figures, captions = _figures(table, gains)
    text = (f"Transfer to {target.describe()}: each model's penultimate features, standardised, feed a "
            f"cross-validated logistic-regression probe ({s.folds}-fold C), with {', '.join(map(str, shots))} "
            f"labelled images per class over {s.seeds} seed(s) (the same images for every model)"
            + (f"; fine-tuning: {', '.join(tuned)}, {s.finetune_steps} steps" if tuned else "") + ".")
    extra = {f"Gain over {labels[reference]}": gains} if len(gains) else {}
    per_example = df.assign(model=df["source"].map(labels))
    return Result("transfer", table, per_example, figures, captions,
                  run.record, text, extra, claims=claims)


def _figures(table: pd.DataFrame, gains: pd.DataFrame):
    import matplotlib.pyplot as plt

    figs, caps = {}, {}
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for (model, protocol), g in table.groupby(["model", "protocol"], sort=False):
        order = [k for k in g["shots"] if k != ALL] + [k for k in g["shots"] if k == ALL]
        g = g.set_index("shots").loc[order]
        xs = np.arange(len(g))
        interval_bars(ax, xs, g["value"], g["low"], g["high"], label=f"{model} ({protocol})")
        ax.set_xticks(xs, list(g.index))
    ax.set_xlabel("labelled target images per class")
    ax.set_ylabel("target test accuracy")
    ax.legend(fontsize=7)
    fig.tight_layout()
    figs["accuracy-vs-shots"] = fig
    caps["accuracy-vs-shots"] = ("Target accuracy against labelled images per class, 95% intervals: look for the "
                                 "robust models' lines above the standard one at few shots.")
    if len(gains):
        fig, ax = plt.subplots(figsize=(6, 3.2))
        for model, g in gains.groupby("model", sort=False):
            xs = np.arange(len(g))
            interval_bars(ax, xs, g["gain"], g["ci_low"], g["ci_high"], scale=100, label=model)
            ax.set_xticks(xs, [f"{p[:6]} {k}" for p, k in zip(g["protocol"], g["shots"])], fontsize=7)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_ylabel("gain over reference (points)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        figs["gain-vs-shots"] = fig
        caps["gain-vs-shots"] = ("Paired gain over the reference model with its 95% interval over seeds; an "
                                 "interval above zero is a transfer gain that holds across draws.")
    return figs, caps
