"""Fine-tuning a source model on a target: all weights ("full") or only the last block and a new head.

Every source gets the same budget: a fixed number of optimiser steps at a fixed batch size, learning rate
and schedule (Adam, cosine decay), whatever its training threat. The budget is in steps, not epochs, so a
5-shot and a full-data run both train long enough to matter and sources are compared like for like.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset, Subset
from tqdm.auto import tqdm

from optimist.core.data import ImageTensorDataset, make_loader
from optimist.core.errors import InputError
from optimist.transfer.features import match_input
from optimist.transfer.splits import labels_of, num_classes_of

MODES = ("full", "last-block")


@dataclass(frozen=True)
class FinetuneConfig:
    """The fine-tuning budget, shared by every source model."""

    steps: int = 300
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    eval_batch_size: int = 512

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.eval_batch_size < 1:
            raise InputError(f"steps and batch sizes must be >= 1, got {self}")
        if self.lr <= 0 or self.weight_decay < 0:
            raise InputError(f"lr must be > 0 and weight_decay >= 0, got lr={self.lr}, wd={self.weight_decay}")

    def to_dict(self) -> dict:
        return asdict(self)


def last_block(model: nn.Module) -> nn.Module:
    """The feature extractor's last trainable block: ``layer4`` of a ResNet, the last layer with weights
    of a sequential body (small-cnn: the Linear(…, 128) before the final ReLU)."""
    body = getattr(model, "body", None)
    if body is None:
        raise InputError(f"{type(model).__name__} has no .body; last-block fine-tuning needs an Optimist Classifier")
    if hasattr(body, "layer4"):
        return body.layer4
    if isinstance(body, nn.Sequential):
        for module in reversed(list(body)):
            if any(p.numel() for p in module.parameters()):
                return module
    raise InputError(f"cannot find a last block in {type(body).__name__}; fine-tune mode 'full' works for any model")


def prepare(model: nn.Module, num_classes: int, mode: str, seed: int = 0) -> tuple[nn.Module, list[nn.Module]]:
    """A copy of ``model`` with a fresh ``num_classes`` head; returns it and the modules that train."""
    if mode not in MODES:
        raise InputError(f"unknown fine-tuning mode {mode!r}; choose one of {', '.join(MODES)}")
    if num_classes < 2:
        raise InputError(f"a target needs at least 2 classes, got {num_classes}")
    tuned = copy.deepcopy(model).cpu()
    torch.manual_seed(seed)
    tuned.head = nn.Linear(tuned.head.in_features, num_classes)
    tuned.num_classes = num_classes
    trainable = [tuned] if mode == "full" else [last_block(tuned), tuned.head]
    for p in tuned.parameters():
        p.requires_grad_(False)
    for module in trainable:
        for p in module.parameters():
            p.requires_grad_(True)
    return tuned, trainable


def _take(dataset: Dataset, idx: np.ndarray) -> Dataset:
    if isinstance(dataset, ImageTensorDataset):
        t = torch.as_tensor(idx, dtype=torch.long)
        return ImageTensorDataset(dataset.images[t], dataset.targets[t], dataset.info)
    return Subset(dataset, [int(i) for i in idx])


def _batch(dataset: Dataset, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    images = getattr(dataset, "images", None)
    if isinstance(images, torch.Tensor):
        t = torch.as_tensor(idx, dtype=torch.long)
        return images[t], dataset.targets[t]
    items = [dataset[int(i)] for i in idx]
    return torch.stack([torch.as_tensor(x) for x, _ in items]), torch.tensor([int(y) for _, y in items])


@torch.no_grad()
def accuracy(model: nn.Module, dataset: Dataset, batch_size: int = 512, device="cpu") -> float:
    """Clean accuracy of ``model`` on ``dataset`` (images adapted to the model's input)."""
    model.eval().to(device)
    correct = total = 0
    for x, y in make_loader(dataset, batch_size=batch_size):
        x = match_input(torch.as_tensor(x).float(), model).to(device)
        y = torch.as_tensor(y).to(device)
        correct += (model(x).argmax(1) == y).sum().item()
        total += len(y)
    if total == 0:
        raise InputError("cannot measure accuracy on an empty dataset")
    return correct / total


def finetune(model: nn.Module, train: Dataset, *, mode: str = "full", config: FinetuneConfig = FinetuneConfig(),
             seed: int = 0, num_classes: int | None = None, device="cpu", progress: bool = False) -> nn.Module:
    """Fine-tune a copy of ``model`` on ``train`` for ``config.steps`` steps; returns it in eval mode.

    ``mode="full"`` trains every weight; ``"last-block"`` trains :func:`last_block` and the new head while the
    rest (batch-norm statistics included) stays frozen. The source model itself is never modified.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.data import from_tensors
    >>> from optimist.core.models import build_model
    >>> toy = from_tensors(torch.rand(8, 1, 28, 28), torch.arange(8) % 2, name="toy")
    >>> from optimist.transfer import FinetuneConfig
    >>> # skipped when run as a doctest: it trains (even a few steps are training)
    >>> tuned = finetune(build_model("small-cnn", 10, 1, 28), toy, config=FinetuneConfig(steps=2))  # doctest: +SKIP
    """
    labels = labels_of(train)
    if len(labels) == 0:
        raise InputError("the fine-tuning set is empty")
    num_classes = num_classes or num_classes_of(train)
    tuned, trainable = prepare(model, num_classes, mode, seed)
    tuned.to(device)
    params = [p for p in tuned.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.steps)
    rng = np.random.default_rng(seed)
    order, pos = rng.permutation(len(labels)), 0
    tuned.eval()
    for module in trainable:
        module.train()
    torch.manual_seed(seed)
    for _ in tqdm(range(config.steps), desc=f"fine-tune {mode}", disable=not progress, leave=False):
        if pos >= len(order):
            order, pos = rng.permutation(len(labels)), 0
        idx = order[pos:pos + config.batch_size]
        pos += len(idx)
        x, y = _batch(train, idx)
        x = match_input(x.float(), tuned).to(device)
        loss = F.cross_entropy(tuned(x), y.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    for p in tuned.parameters():
        p.requires_grad_(False)
    return tuned.eval()


def finetune_accuracy(model: nn.Module, train: Dataset, test: Dataset, *, mode: str = "full",
                      config: FinetuneConfig = FinetuneConfig(), seed: int = 0, train_indices=None,
                      device="cpu", progress: bool = False) -> float:
    """Fine-tune on ``train`` (or its ``train_indices`` subset) and return the test accuracy.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.data import from_tensors
    >>> from optimist.core.models import build_model
    >>> toy = from_tensors(torch.rand(8, 1, 28, 28), torch.arange(8) % 2, name="toy")
    >>> from optimist.transfer import FinetuneConfig
    >>> # skipped when run as a doctest: it trains (even a few steps are training)
    >>> model = build_model("small-cnn", 10, 1, 28)
    >>> acc = finetune_accuracy(model, toy, toy, config=FinetuneConfig(steps=2))  # doctest: +SKIP
    """
    num_classes = num_classes_of(train)
    if train_indices is not None:
        train = _take(train, np.asarray(train_indices))
    tuned = finetune(model, train, mode=mode, config=config, seed=seed, num_classes=num_classes, device=device,
                     progress=progress)
    return accuracy(tuned, test, config.eval_batch_size, device)
