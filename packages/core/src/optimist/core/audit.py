"""The zoo audit: the official AutoAttack on cached robust zoo models, recorded in their model cards.

AutoAttack costs about a hundred times the default evaluation, so the zoo (and the demo) never runs it
implicitly; ``optimist zoo audit [NAMES]`` does, on request. Each audited card gets the AutoAttack result
(with its per-attack breakdown) next to the default evaluation on the same images and the gap between them.
"""

from __future__ import annotations

import os
from typing import Sequence

from optimist.core import zoo
from optimist.core.errors import InputError
from optimist.core.evaluate import AUTOATTACK_VERSIONS, robust_accuracy
from optimist.core.shipped import shipped

GAP_WARNING_POINTS = 1.0


def robust_recipes(root: str | os.PathLike | None = None) -> list[str]:
    """Names of the cached or shipped zoo models trained against a threat."""
    items = shipped()
    return [name for name, r in zoo.recipes().items()
            if r.config.threat and zoo.source(name, root, items) is not None]


def audit(
    names: Sequence[str] | None = None,
    *,
    n: int = zoo.EVAL_N,
    version: str = "standard",
    root: str | os.PathLike | None = None,
    progress: bool = True,
) -> list[dict]:
    """AutoAttack (``version``) and the default evaluation on the first ``n`` test images of each model in
    ``names`` (default: every cached or shipped robust model), at its training threat; both go into the card of
    a cached model (a shipped model's card is read-only: its row says so, and the card already records the audit
    made before it shipped).

    Returns one row per model: clean, AutoAttack and default robust accuracy, gap (points) and seconds.
    """
    if version not in AUTOATTACK_VERSIONS or version == "custom":
        raise InputError(f"the audit runs a full AutoAttack version: standard, plus or rand, got {version!r}")
    names = list(names) if names else robust_recipes(root)
    for name in names:
        r = zoo.recipe(name)  # unknown names: a ValueError listing the known ones
        if not r.config.threat:
            raise InputError(f"{name} is a standard (non-robust) model; the audit is for robust zoo models")
        if zoo.source(name, root) is None:
            raise InputError(f"{name} is neither shipped nor cached; train it first with `optimist zoo get {name}` "
                             "(the audit never trains)")
    rows = []
    for name in names:
        r = zoo.recipe(name)
        cached = zoo.is_cached(name, root)
        model = zoo.get(name, root=root, progress=False, shipped=not cached)
        test = zoo.load_data(r, "test")
        threat = r.config.threat
        aa = robust_accuracy(model, test, threat, attack="autoattack", autoattack_version=version, n=n,
                             progress=progress)
        ours = robust_accuracy(model, test, threat, n=n, progress=progress)
        gap = 100 * (ours.robust_accuracy - aa.robust_accuracy)
        record = {**aa.summary(), "default_robust_accuracy": round(ours.robust_accuracy, 4),
                  "default_settings": ours.settings, "default_seconds": round(ours.seconds, 1),
                  "gap_points": round(gap, 2)}
        if cached:
            zoo.add_evaluation(name, record, root)
        rows.append({"name": name, "recorded": "card" if cached else "no (shipped)", "threat": str(threat),
                     "n": aa.n, "clean": aa.clean_accuracy,
                     "autoattack": aa.robust_accuracy, "default": ours.robust_accuracy, "gap_points": gap,
                     "autoattack_s": aa.seconds, "default_s": ours.seconds})
    return rows
