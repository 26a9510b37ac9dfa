"""The threat model: a norm and a budget in [0, 1] pixel space, used wherever a budget is meant.

Everything that depends on the norm (projection onto the ball, random start, steepest-ascent step, the
size of a perturbation) lives here, once, so no attack carries its own copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from optimist.core.errors import InputError

NORMS = ("linf", "l2")


def _flat_norm(t: torch.Tensor, p: float) -> torch.Tensor:
    return t.flatten(1).norm(p=p, dim=1)


def _view(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (like.ndim - 1)))


@dataclass(frozen=True)
class Threat:
    """An L-inf or L2 ball of radius ``eps`` (``math.inf`` for an unbounded attack)."""

    norm: str
    eps: float

    def __post_init__(self):
        if self.norm not in NORMS:
            raise InputError(f"unknown norm {self.norm!r}; use one of {', '.join(NORMS)}")
        eps = float(self.eps)
        if math.isnan(eps) or eps < 0:
            raise InputError(f"epsilon must be a non-negative number (or inf), got {self.eps!r}")
        object.__setattr__(self, "eps", eps)

    @classmethod
    def parse(cls, text: str) -> "Threat":
        """``"linf:0.1"``, ``"l2:1.5"`` or ``"l2:inf"`` -> Threat."""
        try:
            norm, eps = text.split(":")
            return cls(norm.strip().lower(), float(eps))
        except ValueError as e:
            raise InputError(f"cannot read threat {text!r}: write NORM:EPS, e.g. linf:0.1 or l2:1.5 ({e})") from None

    def __str__(self) -> str:
        return f"{self.norm}:{self.eps:g}"

    @property
    def unbounded(self) -> bool:
        return math.isinf(self.eps)

    def default_step_size(self, steps: int) -> float:
        """MadryLab ``robustness`` convention: 2.5 * eps / steps."""
        if self.unbounded:
            raise InputError("an unbounded threat (eps=inf) needs an explicit step_size")
        return 2.5 * self.eps / max(steps, 1)

    def size(self, delta: torch.Tensor) -> torch.Tensor:
        """Per-example norm of a perturbation batch."""
        return _flat_norm(delta, math.inf if self.norm == "linf" else 2.0)

    def project(self, delta: torch.Tensor) -> torch.Tensor:
        """Closest point of the ball to each ``delta``."""
        if self.unbounded:
            return delta
        if self.norm == "linf":
            return delta.clamp(-self.eps, self.eps)
        n = _view(self.size(delta), delta)
        return delta * torch.where(n > self.eps, self.eps / n.clamp_min(1e-12), torch.ones_like(n))

    def random_delta(self, x: torch.Tensor) -> torch.Tensor:
        """A random point of the ball (radius 1 for an unbounded threat).

        L-inf: uniform in the cube. L2: uniform direction, radius uniform in [0, eps]; sampling uniformly in
        volume would put every start on the sphere in high dimension and spend the budget on noise.
        """
        eps = 1.0 if self.unbounded else self.eps
        if self.norm == "linf":
            return torch.empty_like(x).uniform_(-eps, eps)
        g = torch.randn_like(x)
        direction = g / _view(self.size(g).clamp_min(1e-12), g)
        radius = torch.rand(x.shape[0], device=x.device, dtype=x.dtype) * eps
        return direction * _view(radius, x)

    def ascent(self, grad: torch.Tensor, step_size: "float | torch.Tensor") -> torch.Tensor:
        """Steepest-ascent step of length ``step_size`` in this norm (a number, or one per example shaped
        to broadcast, e.g. ``(N, 1, 1, 1)``)."""
        if self.norm == "linf":
            return step_size * grad.sign()
        return step_size * grad / _view(self.size(grad).clamp_min(1e-12), grad)

    def dual_norm(self, w: torch.Tensor) -> torch.Tensor:
        """Per-example dual norm (L1 for L-inf, L2 for L2): eps * dual_norm(w) is a linear model's largest change."""
        return _flat_norm(w, 1.0 if self.norm == "linf" else 2.0)


def as_threat(threat: "Threat | str") -> Threat:
    """Accept a Threat or its text form."""
    return threat if isinstance(threat, Threat) else Threat.parse(threat)


def training_threat(model) -> tuple[str | None, float] | None:
    """``(norm, eps)`` the model was adversarially trained with, ``(None, 0.0)`` if trained normally, from its card;
    ``None`` when the model carries no training record (e.g. a wrapped or imported model).

    >>> import torch
    >>> net = torch.nn.Linear(2, 2)
    >>> net.card = {"training": {"method": "pgd", "threat": "linf:0.1"}}
    >>> training_threat(net)
    ('linf', 0.1)
    """
    card = getattr(model, "card", None) or {}
    training = card.get("training")
    if not isinstance(training, dict):
        return None
    if training.get("method") == "standard" or not training.get("threat"):
        return None, 0.0
    t = as_threat(training["threat"])
    return t.norm, float(t.eps)
