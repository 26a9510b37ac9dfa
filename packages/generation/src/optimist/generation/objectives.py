"""The objectives the tasks hand to core's PGD engine (all descended: lower is better).

Each follows core's signature ``objective(model, x, y) -> per-example loss``. PGD slices ``y`` by example
index as it runs, so objectives that need several per-example tensors receive them as a :class:`Packed`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from optimist.core.attacks import Objective, cross_entropy
from optimist.core.errors import InputError
from optimist.core.models import require_classifier


class Packed:
    """Per-example tensors bundled so that ``packed[idx]`` slices every one (PGD indexes ``y`` this way).

    Non-tensor values (e.g. a penalty weight) are shared by all examples and passed through unchanged.
    """

    def __init__(self, **fields):
        sizes = {len(v) for v in fields.values() if isinstance(v, torch.Tensor)}
        if len(sizes) > 1:
            raise InputError(f"packed tensors must share their first dimension, got sizes {sorted(sizes)}")
        self._fields = fields

    def __getitem__(self, idx) -> "Packed":
        return Packed(**{k: v[idx] if isinstance(v, torch.Tensor) else v for k, v in self._fields.items()})

    def __getattr__(self, name):
        fields = self.__dict__.get("_fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(f"Packed has no field {name!r}; fields: {', '.join(fields)}")

    def to(self, device) -> "Packed":
        """Every tensor moved to ``device``."""
        return Packed(**{k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in self._fields.items()})

    def __len__(self) -> int:
        return next(len(v) for v in self._fields.values() if isinstance(v, torch.Tensor))


def class_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy toward class ``y``; descending it is targeted PGD (generation, super-resolution, translation)."""
    return cross_entropy(model, x, y)


def _check_confidence(confidence: float | None) -> float:
    """The cross-entropy floor -log(confidence) (0 when ``confidence`` is None: no floor)."""
    if confidence is None:
        return 0.0
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be in (0, 1) or None, got {confidence}")
    return -math.log(confidence)


def targeted_loss(confidence: float | None = None) -> Objective:
    """Targeted cross-entropy, floored at ``-log(confidence)`` when ``confidence`` is given.

    With a floor, an example stops changing once the model gives its target probability ``confidence``:
    PGD then sees a zero gradient there (a margin as in Carlini & Wagner's kappa). Without one, PGD keeps
    pushing the model's confidence up for the whole budget, as in Santurkar et al.
    """
    floor = _check_confidence(confidence)
    if floor == 0.0:
        return class_loss

    def floored_class_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(x), y, reduction="none").clamp_min(floor)

    return floored_class_loss


def inpainting_loss(model: nn.Module, x: torch.Tensor, y: Packed) -> torch.Tensor:
    """CE toward ``y.labels`` plus ``y.lam * ||(x - y.original) * y.keep||^2 / D``: fill the hole, keep the rest.

    ``y.keep`` is 1 on the pixels to preserve (1 - mask). As in the official notebook of Santurkar et al.
    (2019), the squared norm is averaged over the D pixel values, so the weight means the same at any
    resolution (their lambda = 10 carries over from 224x224 to 28x28).
    """
    penalty = ((x - y.original) * y.keep).flatten(1).pow(2).mean(1)
    ce = F.cross_entropy(model(x), y.labels, reduction="none")
    floor = getattr(y, "floor", 0.0)
    return (ce.clamp_min(floor) if floor else ce) + y.lam * penalty


def representation(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The penultimate representation R(x) (``model.features``), shape (N, D)."""
    require_classifier(model, "feature objectives (inversion, visualisation)")
    return model.features(x)


def feature_distance(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """||R(x) - R_target|| / ||R_target|| with ``y`` the target representations (Engstrom et al. 2019)."""
    r = representation(model, x)
    return (r - y).norm(dim=1) / y.norm(dim=1).clamp_min(1e-8)


def negative_unit(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """-R(x)_i with ``y`` the unit index per example; descending it maximises that unit (feature visualisation)."""
    r = representation(model, x)
    return -r.gather(1, y.view(-1, 1).long()).squeeze(1)
