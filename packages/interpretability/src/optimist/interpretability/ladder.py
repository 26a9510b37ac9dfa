"""Zoo models along an epsilon ladder, with display names and their training epsilon."""

from __future__ import annotations

from optimist.core import zoo
from optimist.core.attacks import Threat
from optimist.interpretability.figures import NORM_LABEL

#: The default ladder: the cheap, commonly cached part of the zoo's L∞ ladder.
DEFAULT_LADDER = ("fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/linf-0.05",
                  "fashion-mnist/small-cnn/linf-0.1")


def training_epsilon(name: str) -> tuple[str | None, float]:
    """``(norm, eps)`` a zoo model was adversarially trained with; ``(None, 0.0)`` for standard training."""
    threat = zoo.recipe(name).config.threat
    if threat is None:
        return None, 0.0
    t = Threat.parse(threat) if isinstance(threat, str) else threat
    return t.norm, float(t.eps)


def display_name(name: str) -> str:
    """"standard" or e.g. "L∞ 0.1" for a zoo model name."""
    norm, eps = training_epsilon(name)
    return "standard" if norm is None else f"{NORM_LABEL.get(norm, norm)} {eps:g}"


def ladder_names(which: str = "default") -> list[str]:
    """Zoo names for ``which``: "default" (standard, L∞ 0.05, 0.1), "linf", "l2" or "all" (both ladders)."""
    if which == "default":
        return list(DEFAULT_LADDER)
    if which in ("linf", "l2"):
        return zoo.ladder(which)
    if which == "all":
        return list(dict.fromkeys(zoo.ladder("linf") + zoo.ladder("l2")))
    raise ValueError(f"unknown ladder {which!r}; choose default, linf, l2 or all")
