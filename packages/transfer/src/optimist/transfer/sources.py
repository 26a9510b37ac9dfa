"""Source models: a zoo model with its training threat (norm, epsilon) and its own clean/robust accuracy.

The threat and the accuracies come from the model card (``card["training"]`` and ``card["evaluation"]``),
so a source is described by its checkpoint, not by a name convention; zoo recipes fill gaps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from torch import nn

from optimist.core import zoo
from optimist.core.errors import InputError
from optimist.core.models import require_classifier

# Trained on Fashion-MNIST classes 0-4 only: their features have never seen a target class.
FASHION_0TO4 = "fashion-mnist-0to4/small-cnn"
DEFAULT_SOURCES: tuple[str, ...] = (f"{FASHION_0TO4}/standard", f"{FASHION_0TO4}/linf-0.05",
                                    f"{FASHION_0TO4}/linf-0.1")
L2_SOURCES: tuple[str, ...] = (f"{FASHION_0TO4}/l2-1.5",)
# The zoo's default pair (all ten Fashion-MNIST classes): the only sources in tests' small zoo.
PAIR_SOURCES: tuple[str, ...] = ("fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/linf-0.1")


def display_label(norm: str, epsilon: float) -> str:
    """"standard" for norm "none", else e.g. "L∞ 0.05" or "L2 1.5"."""
    if norm == "none":
        return "standard"
    return f"{'L∞' if norm == 'linf' else norm.upper()} {epsilon:g}"


@dataclass
class Source:
    """A source model and what the transfer results report about it."""

    name: str
    model: nn.Module
    norm: str  # "none" for standard training, else "linf" / "l2"
    epsilon: float
    clean_accuracy: float = math.nan
    robust_accuracy: dict[str, float] = field(default_factory=dict)  # threat string -> PGD accuracy

    @property
    def label(self) -> str:
        """Short display name: "standard", "L∞ 0.05", "L2 1.5"."""
        return display_label(self.norm, self.epsilon)

    def robust_at(self, threat: str | None = None) -> tuple[str, float]:
        """(threat, accuracy) at ``threat``, or at the first threat the card evaluated."""
        if not self.robust_accuracy:
            return ("none", math.nan)
        if threat is None:
            threat = next(iter(self.robust_accuracy))
        return threat, self.robust_accuracy.get(threat, math.nan)


def _threat_of(card: dict, name: str) -> tuple[str, float]:
    training = card.get("training", {})
    method, threat = training.get("method"), training.get("threat")
    if method is None:
        try:
            cfg = zoo.recipe(name).config
            method, threat = cfg.method, cfg.threat
        except ValueError:
            pass
    if method in (None, "standard") or not threat:
        return "none", 0.0
    norm, eps = str(threat).split(":")
    return norm, float(eps)


def source_from_model(model: nn.Module, name: str | None = None) -> Source:
    """Describe a model as a source from its card (models without one count as standard, accuracy NaN).

    Examples
    --------
    >>> from optimist.core.models import build_model
    >>> source = source_from_model(build_model("small-cnn", 10, 1, 28), "net")
    >>> source.name, source.norm, source.epsilon
    ('net', 'none', 0.0)
    """
    card = getattr(model, "card", None) or {}
    name = name or card.get("name") or type(model).__name__
    require_classifier(model, f"transfer (source {name!r})")
    norm, eps = _threat_of(card, name)
    evaluation = card.get("evaluation", {})
    clean = evaluation.get("clean_accuracy")
    robust = {r["threat"]: float(r["robust_accuracy"]) for r in evaluation.get("robust", [])
              if r.get("attack", "pgd") == "pgd"}
    return Source(name, model.eval(), norm, eps, math.nan if clean is None else float(clean), robust)


def load_sources(names: tuple[str, ...] | list[str] = DEFAULT_SOURCES, root=None, progress: bool = True,
                 device=None) -> list[Source]:
    """Zoo models by name (trained and cached first if missing), ordered by norm then epsilon.

    Examples
    --------
    >>> # skipped when run as a doctest: it fetches (or trains) zoo models (minutes)
    >>> sources = load_sources(("fashion-mnist-0to4/small-cnn/standard",))  # doctest: +SKIP
    """
    if not names:
        raise InputError("give at least one source model name")
    sources = [source_from_model(zoo.get(n, root=root, progress=progress, device=device), n) for n in names]
    return sort_sources(sources)


def sort_sources(sources: list[Source]) -> list[Source]:
    """Standard first, then the L∞ ladder, then L2, each by increasing epsilon."""
    rank = {"none": 0, "linf": 1, "l2": 2}
    return sorted(sources, key=lambda s: (rank.get(s.norm, 3), s.epsilon, s.name))
