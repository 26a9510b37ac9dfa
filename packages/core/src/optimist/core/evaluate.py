"""Robust accuracy, evaluated as a cascade: only points still classified correctly are attacked further."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from optimist.core.attacks import Threat, as_threat, fgsm, pgd
from optimist.core.attacks.checks import check_images, check_labels
from optimist.core.attacks.objectives import label_loss
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


def _pgd_cascade(model, x, y, clean_logits, threat, steps, step_size, restarts, losses, targets) -> torch.Tensor:
    """Which of (x, y) survive every stage: untargeted PGD per loss, then targeted margin PGD per class."""
    alive = torch.ones(len(y), dtype=torch.bool, device=y.device)
    others = clean_logits.scatter(1, y[:, None], float("-inf")).argsort(1, descending=True)
    stages = [(loss, None) for loss in losses] + [("margin", k) for k in range(min(targets, others.shape[1] - 1))]
    for loss, k in stages:
        idx = alive.nonzero().flatten()
        if idx.numel() == 0:
            break
        goal = y[idx] if k is None else others[idx, k]
        xa = pgd(model, x[idx], goal, threat, steps=steps, step_size=step_size, restarts=restarts,
                 early_stop=True, loss=loss, targeted=k is not None)
        with torch.no_grad():
            alive[idx] = model(xa).argmax(1) == y[idx]
    return alive


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
    losses: Sequence[str] = ("ce", "margin"),
    targets: int = 0,
) -> EvalResult:
    """Clean and robust accuracy of ``model`` on ``data`` (a dataset or an iterable of (x, y) batches).

    ``attack`` is ``"pgd"``, ``"fgsm"`` or ``"autoattack"`` (the standard AutoAttack ensemble through
    torchattacks; install ``optimist-core[eval]``). ``"pgd"`` is a cascade: PGD with each loss in ``losses``
    in turn (``steps``, ``restarts``, early stop per example), then targeted margin PGD toward each of the
    ``targets`` most likely wrong classes; every stage attacks only the points that survived the previous
    ones, so the extra stages cost little on a weak model and add strength on a robust one. Points the
    model already gets wrong are not attacked. ``n`` limits the evaluation to the first ``n`` examples.
    The model is evaluated in eval mode and returned to the mode it was in.
    """
    import time

    threat = as_threat(threat)
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; choose one of {', '.join(ATTACKS)}")
    if attack == "pgd":
        for name in losses:
            label_loss(name)
        if targets < 0 or (not losses and targets == 0):
            raise ValueError(f"the PGD cascade needs at least one stage: losses={tuple(losses)}, targets={targets} "
                             "(targets must be >= 0; pass losses=('ce', 'margin') or targets >= 1)")
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
                    robust[idx] = _pgd_cascade(model, xs, ys, logits[idx], threat, steps, step_size, restarts,
                                               losses, targets)
                else:
                    xa = fgsm(model, xs, ys, threat) if attack == "fgsm" else \
                        _autoattack(model, xs, ys, threat, seed, autoattack_version)
                    with torch.no_grad():
                        robust[idx] = model(xa).argmax(1) == ys
            clean_all.append(clean.cpu())
            robust_all.append(robust.cpu())
    finally:
        model.train(was_training)
    clean_t, robust_t = torch.cat(clean_all), torch.cat(robust_all)
    settings = {"steps": steps, "restarts": restarts, "losses": list(losses), "targets": targets} \
        if attack == "pgd" else {}
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
