"""Robust accuracy, evaluated as a cascade: only points still classified correctly are attacked further."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from optimist.core.attacks import Threat, as_threat, fgsm, pgd
from optimist.core.attacks.checks import check_images, check_labels
from optimist.core.data.loaders import make_loader

ATTACKS = ("pgd", "fgsm", "autoattack")


@dataclass
class EvalResult:
    """Clean and robust accuracy, with per-example outcomes (True = still correct)."""

    clean_accuracy: float
    robust_accuracy: float
    clean_correct: torch.Tensor
    robust_correct: torch.Tensor
    threat: str
    attack: str
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def n(self) -> int:
        return int(self.clean_correct.numel())

    def summary(self) -> dict:
        """A JSON-friendly record (what model cards store)."""
        return {
            "attack": self.attack, "threat": self.threat, "n": self.n,
            "clean_accuracy": round(self.clean_accuracy, 4), "robust_accuracy": round(self.robust_accuracy, 4),
            "seconds": round(self.seconds, 1), **self.settings,
        }


def _autoattack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: Threat, seed: int, version: str):
    try:
        import torchattacks
    except ImportError as e:
        raise ImportError(
            "attack='autoattack' needs torchattacks: pip install 'optimist-core[eval]' (or pip install torchattacks)"
        ) from e
    norm = {"linf": "Linf", "l2": "L2"}[threat.norm]
    n_classes = getattr(model, "num_classes", None) or int(model(x[:1]).shape[1])
    attack = torchattacks.AutoAttack(model, norm=norm, eps=threat.eps, version=version, n_classes=n_classes, seed=seed)
    return attack(x, y)


def _check_model_output(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    check_images(x)
    with torch.no_grad():
        logits = model(x)
    check_labels(y, x.shape[0], logits.shape[1])
    return logits


def robust_accuracy(
    model: nn.Module,
    data: Dataset | Iterable,
    threat: Threat | str,
    attack: str = "pgd",
    steps: int = 20,
    restarts: int = 1,
    step_size: float | None = None,
    n: int | None = None,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    seed: int = 0,
    autoattack_version: str = "standard",
    progress: bool = True,
) -> EvalResult:
    """Clean and robust accuracy of ``model`` on ``data`` (a dataset or an iterable of (x, y) batches).

    ``attack`` is ``"pgd"`` (``steps``, ``restarts``, early stop per example), ``"fgsm"`` or ``"autoattack"``
    (the standard AutoAttack ensemble through torchattacks; install ``optimist-core[eval]``). Points the
    model already gets wrong are not attacked. ``n`` limits the evaluation to the first ``n`` examples.
    The model is evaluated in eval mode and returned to the mode it was in.
    """
    import time

    threat = as_threat(threat)
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; choose one of {', '.join(ATTACKS)}")
    if device is None:
        device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    torch.manual_seed(seed)
    clean_all, robust_all = [], []
    seen = 0
    start = time.perf_counter()
    batches = make_loader(data, batch_size)
    total = math.ceil(min(n, len(data)) / batch_size) if n and hasattr(data, "__len__") else None
    try:
        for x, y in tqdm(batches, desc=f"{attack} {threat}", total=total, disable=not progress, leave=False):
            if n is not None:
                if seen >= n:
                    break
                x, y = x[: n - seen], y[: n - seen]
            seen += len(y)
            x, y = x.to(device), y.to(device)
            logits = _check_model_output(model, x, y)
            clean = logits.argmax(1) == y
            robust = clean.clone()
            idx = clean.nonzero().flatten()
            if idx.numel() and threat.eps > 0:
                xs, ys = x[idx], y[idx]
                if attack == "pgd":
                    xa = pgd(model, xs, ys, threat, steps=steps, step_size=step_size, restarts=restarts,
                             early_stop=True)
                elif attack == "fgsm":
                    xa = fgsm(model, xs, ys, threat)
                else:
                    xa = _autoattack(model, xs, ys, threat, seed, autoattack_version)
                with torch.no_grad():
                    robust[idx] = model(xa).argmax(1) == ys
            clean_all.append(clean.cpu())
            robust_all.append(robust.cpu())
    finally:
        model.train(was_training)
    clean_t, robust_t = torch.cat(clean_all), torch.cat(robust_all)
    settings = {"steps": steps, "restarts": restarts} if attack == "pgd" else {}
    if attack == "autoattack":
        settings = {"version": autoattack_version}
    return EvalResult(
        clean_accuracy=clean_t.float().mean().item(),
        robust_accuracy=robust_t.float().mean().item(),
        clean_correct=clean_t,
        robust_correct=robust_t,
        threat=str(threat),
        attack=attack,
        settings=settings,
        seconds=time.perf_counter() - start,
    )
