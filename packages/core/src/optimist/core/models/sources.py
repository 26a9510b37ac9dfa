"""Bare modules named by a source: ``torchvision:NAME`` or ``python:package.module:factory`` (no weights).

>>> net = build_source("torchvision:resnet18", num_classes=10)
>>> net.fc.out_features
10
"""

from __future__ import annotations

import importlib

from torch import nn

from optimist.core.errors import ModelSpecError

__all__ = ["build_source"]


def build_source(source: str, num_classes: int | None = None) -> nn.Module:
    """The bare module a ``torchvision:NAME`` or ``python:package.module:factory`` source names (no weights)."""
    kind, _, rest = source.partition(":")
    if kind == "torchvision":
        import torchvision

        name = rest.split(":", 1)[0]
        try:
            kwargs = {"weights": None}
            if num_classes is not None:
                kwargs["num_classes"] = num_classes
            return torchvision.models.get_model(name, **kwargs)
        except ValueError as e:
            raise ModelSpecError(f"torchvision has no model {name!r}; see torchvision.models.list_models()") from e
    if kind == "python":
        parts = rest.split(":")
        if len(parts) < 2:
            raise ModelSpecError(f"python spec needs package.module:factory, got {source!r}")
        mod_name, fn_name = parts[0], parts[1]
        try:
            fn = getattr(importlib.import_module(mod_name), fn_name)
        except (ImportError, AttributeError) as e:
            raise ModelSpecError(f"cannot import {fn_name} from {mod_name}: {e}") from e
        module = fn()
        if not isinstance(module, nn.Module):
            raise ModelSpecError(f"{mod_name}:{fn_name}() returned {type(module).__name__}, not an nn.Module")
        return module
    raise ModelSpecError(f"cannot rebuild a module from source {source!r}; sources are torchvision:NAME or "
                         "python:package.module:factory")
