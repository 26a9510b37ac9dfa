"""The small kit every application shares: eval mode, devices, predictions, intervals and display names.

Applications import these instead of keeping their own copies, so "leave the caller's model as it was" and
"a 95% interval" mean the same thing everywhere.
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from optimist.core.attacks.checks import check_images, check_labels
from optimist.core.errors import DeviceError

__all__ = [
    "check_images", "check_labels", "display_name", "evaluating", "model_device", "paired_interval", "predict",
    "preserved", "proportion_interval", "resolve_device", "seeded", "t_interval", "training_threat", "welch_interval",
]


@contextlib.contextmanager
def evaluating(models: nn.Module | Iterable[nn.Module]) -> Iterator[nn.Module | list[nn.Module]]:
    """Eval mode for the duration (batch-norm statistics and dropout must not move), then the caller's mode.

    Takes one model or several; the mode of every submodule is restored, not just the top-level flag.
    """
    group = [models] if isinstance(models, nn.Module) else list(models)
    modes = [(m, m.training) for model in group for m in model.modules()]
    for model in group:
        model.eval()
    try:
        yield models
    finally:
        for m, was in modes:
            m.training = was


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a model with neither)."""
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def predict(model: nn.Module, x: torch.Tensor, *, batch_size: int = 512) -> torch.Tensor:
    """Predicted class of each image in ``x`` (eval mode, no gradients), on ``x``'s device."""
    device = model_device(model)
    out = []
    with evaluating(model), torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            out.append(model(x[i:i + batch_size].to(device)).argmax(1).to(x.device))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=x.device)


class _ModelState:
    """What :func:`preserved` restores: per-module mode, per-tensor device/dtype and requires_grad."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.modes = [(m, m.training) for m in model.modules()]
        self.params = [(p, p.data, p.requires_grad) for p in model.parameters()]
        self.buffers = [(mod, name, buf) for mod in model.modules() for name, buf in mod._buffers.items()
                        if buf is not None]

    def restore(self) -> None:
        for m, was in self.modes:
            m.training = was
        for p, data, flag in self.params:
            if p.data.device != data.device or p.data.dtype != data.dtype:
                p.data = p.data.to(device=data.device, dtype=data.dtype)
            p.requires_grad_(flag)
        for mod, name, buf in self.buffers:
            cur = mod._buffers.get(name)
            if cur is not None and (cur.device != buf.device or cur.dtype != buf.dtype):
                mod._buffers[name] = cur.to(device=buf.device, dtype=buf.dtype)


@contextlib.contextmanager
def preserved(models: nn.Module | Iterable[nn.Module]) -> Iterator[None]:
    """Whatever happens inside, each model leaves with the mode, device, dtype and flags it came with."""
    models = [models] if isinstance(models, nn.Module) else list(models)
    states = [_ModelState(m) for m in models]
    try:
        yield
    finally:
        for s in states:
            s.restore()


def t_interval(values: Sequence[float] | np.ndarray, *, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its Student-t interval; NaN values are dropped, fewer than 2 give NaN bounds."""
    from scipy import stats

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
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
    from scipy import stats

    v = np.asarray(values, dtype=float).ravel()
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    if not np.isin(v, (0.0, 1.0)).all():
        raise ValueError("proportion_interval takes 0/1 outcomes; use t_interval for other values")
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
        raise ValueError(f"paired values need equal shapes, got {a.shape} and {b.shape}")
    return t_interval(a - b, confidence=confidence)


def welch_interval(a: Sequence[float], b: Sequence[float], *,
                   confidence: float = 0.95) -> tuple[float, float, float]:
    """Difference of means ``mean(a) - mean(b)`` of two independent groups (e.g. models trained with different
    seeds) with its Welch interval (unequal variances, Welch-Satterthwaite degrees of freedom); NaN values are
    dropped, a group with fewer than 2 values gives NaN bounds."""
    from scipy import stats

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
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


_NORM_LABEL = {"linf": "L∞", "l2": "L2"}


def training_threat(model: nn.Module) -> tuple[str | None, float] | None:
    """``(norm, eps)`` the model was adversarially trained with, ``(None, 0.0)`` if trained normally, from its card;
    ``None`` when the model carries no training record (e.g. a wrapped or imported model)."""
    card = getattr(model, "card", None) or {}
    training = card.get("training")
    if not isinstance(training, dict):
        return None
    if training.get("method") == "standard" or not training.get("threat"):
        return None, 0.0
    from optimist.core.attacks import as_threat

    t = as_threat(training["threat"])
    return t.norm, float(t.eps)


def display_name(name: str) -> str:
    """Short display name of a model: "standard", "L∞ 0.1", "L2 1.5", "TRADES L∞ 0.1" for zoo names.

    Names that are not zoo names come back unchanged.
    """
    from optimist.core import zoo

    bare = name[4:] if name.startswith("zoo:") else name
    if not zoo.known(bare):
        return name
    cfg = zoo.recipe(bare).config
    if cfg.threat is None or cfg.method == "standard":
        return "standard"
    from optimist.core.attacks import as_threat

    t = as_threat(cfg.threat)
    label = f"{_NORM_LABEL.get(t.norm, t.norm)} {t.eps:g}"
    prefix = {"pgd": "", "trades": "TRADES ", "fast": "fast-AT "}.get(cfg.method, f"{cfg.method} ")
    return prefix + label


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a torch.device that exists here; a clear error for unknown or unavailable devices."""
    if device is None:
        return torch.device("cpu")
    if isinstance(device, torch.device):
        dev = device
    else:
        try:
            dev = torch.device(str(device))
        except RuntimeError as e:
            raise DeviceError(f"unknown device {device!r}; use cpu, cuda, cuda:N or mps", field="device",
                              value=device) from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {device!r} asked for, but this machine has no usable CUDA GPU; use --device cpu",
                              field="device", value=device)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device {device!r} does not exist: {torch.cuda.device_count()} CUDA device(s) here",
                              field="device", value=device)
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device {device!r} asked for, but MPS is not available here; use --device cpu",
                          field="device", value=device)
    return dev


@contextlib.contextmanager
def seeded(seed: int, devices: Sequence[torch.device] = ()) -> Iterator[torch.Generator]:
    """Run with torch's global RNG seeded by ``seed`` and give it back to the caller untouched afterwards.

    Libraries that draw from the global RNG (random starts, dropout) become reproducible from ``seed`` while the
    caller's own random stream continues as if nothing had run. Yields a CPU ``torch.Generator`` seeded alike.
    """
    cuda = [d.index or 0 for d in map(torch.device, devices) if d.type == "cuda"]
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield torch.Generator().manual_seed(seed)
