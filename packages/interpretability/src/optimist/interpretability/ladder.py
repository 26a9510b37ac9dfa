"""Zoo models along an epsilon ladder (the ready-made model sets to compare)."""

from __future__ import annotations

from optimist.core import zoo
from optimist.core.errors import InputError

#: The default ladder: the cheap, commonly cached part of the zoo's L∞ ladder.
DEFAULT_LADDER = ("fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/linf-0.05",
                  "fashion-mnist/small-cnn/linf-0.1")


def ladder_names(which: str = "default") -> list[str]:
    """Zoo names for ``which``: "default" (standard, L∞ 0.05, 0.1), "linf", "l2" or "all" (both ladders).

    Examples
    --------
    >>> ladder_names()
    ['fashion-mnist/small-cnn/standard', 'fashion-mnist/small-cnn/linf-0.05', 'fashion-mnist/small-cnn/linf-0.1']
    """
    if which == "default":
        return list(DEFAULT_LADDER)
    if which in ("linf", "l2"):
        return zoo.ladder(which)
    if which == "all":
        return list(dict.fromkeys(zoo.ladder("linf") + zoo.ladder("l2")))
    raise InputError(f"unknown ladder {which!r}; choose default, linf, l2 or all")
