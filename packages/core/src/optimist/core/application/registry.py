"""Installed applications, found through the ``optimist.applications`` entry-point group.

>>> from optimist.core.application import available_applications
>>> sorted(available_applications())  # doctest: +SKIP
['generation', 'geometry', 'interpretability', 'shifts', 'transfer']
"""

from __future__ import annotations

from importlib.metadata import entry_points

from optimist.core.application.contract import Application

GROUP = "optimist.applications"


def available_applications() -> dict[str, Application]:
    """Installed applications by name (loaded from the ``optimist.applications`` entry points)."""
    out = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        app = ep.load()
        if not isinstance(app, Application):
            raise TypeError(f"entry point {ep.name} = {ep.value} is not an optimist.core.application.Application")
        out[ep.name] = app
    return out


__all__ = ["GROUP", "available_applications"]
