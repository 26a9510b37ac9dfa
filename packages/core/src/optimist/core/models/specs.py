"""Model specs: one text form for every model a command or an application can take.

==========================================  =================================================================
``zoo:NAME`` or ``NAME``                    a zoo model (trained on first use, then cached)
``PATH`` (folder or ``.safetensors``)       an Optimist checkpoint
``robustbench:FILE[:ARCH]``                 a RobustBench ``.pt`` file, into registry architecture ARCH
``robustness:FILE[:ARCH]``                  a MadryLab ``robustness`` checkpoint
``torchvision:NAME[:WEIGHTS_FILE]``         a torchvision architecture; weights from a local state dict file
                                            (never downloaded), else randomly initialised
``python:package.module:factory[:WEIGHTS]`` ``factory()`` returns the module; weights from a state dict file
==========================================  =================================================================

ARCH is guessed from the file's tensors when omitted. Any spec may end with ``?key=value&...`` to set what
cannot be read from the file: ``num_classes``, ``in_channels``, ``image_size``, ``mean``, ``std`` (comma
separated), ``feature_layer``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import torch
from torch import nn

KINDS = ("zoo", "robustbench", "robustness", "torchvision", "python")
_OPTIONS = ("num_classes", "in_channels", "image_size", "mean", "std", "feature_layer")


class ModelSpecError(ValueError):
    """A model spec that names no model; the message lists the spec kinds."""


def _usage() -> str:
    return ("model specs: zoo:NAME (or a bare zoo name), PATH (Optimist checkpoint folder or .safetensors), "
            "robustbench:FILE[:ARCH], robustness:FILE[:ARCH], torchvision:NAME[:WEIGHTS_FILE], "
            "python:package.module:factory[:WEIGHTS_FILE]; options as ?num_classes=10&image_size=32")


def _options(query: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in filter(None, query.split("&")):
        if "=" not in item:
            raise ModelSpecError(f"model spec option {item!r} must be KEY=VALUE")
        key, value = item.split("=", 1)
        if key not in _OPTIONS:
            raise ModelSpecError(f"unknown model spec option {key!r}; valid options: {', '.join(_OPTIONS)}")
        if key in ("mean", "std"):
            out[key] = [float(v) for v in value.split(",")]
        elif key == "feature_layer":
            out[key] = value
        else:
            try:
                out[key] = int(value)
            except ValueError as e:
                raise ModelSpecError(f"model spec option {key} must be an integer, got {value!r}") from e
    return out


def _split_file_arch(rest: str) -> tuple[str, str | None]:
    """``FILE[:ARCH]`` where FILE may itself contain colons only if it exists as given."""
    if Path(rest).expanduser().exists() or ":" not in rest:
        return rest, None
    file, arch = rest.rsplit(":", 1)
    return file, arch


def _read_state_dict(path: str) -> dict[str, torch.Tensor]:
    from optimist.core.importers import read_state_dict

    return read_state_dict(path)


def _head_shape(module: nn.Module) -> int | None:
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return linears[-1].out_features if linears else None


def _first_conv_channels(module: nn.Module) -> int | None:
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    return convs[0].in_channels if convs else None


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


def _load_state(module: nn.Module, weights: str, source: str) -> None:
    from optimist.core.checkpoints import load_into

    sd = _read_state_dict(weights)
    sd = {k[7:] if k.startswith("module.") else k: v for k, v in sd.items()}
    load_into(module, sd, source=f"{weights} (as {source})")


def resolve(spec: str, **options: Any) -> nn.Module:
    """The model a spec names (see the module docstring), in eval mode, with ``.spec`` set to the spec.

    ``options`` (``num_classes``, ``in_channels``, ``image_size``, ``mean``, ``std``, ``feature_layer``) fill in
    what the file does not say, like the ``?key=value`` suffix.
    """
    from optimist.core import zoo
    from optimist.core.checkpoints import CheckpointError, load_model
    from optimist.core.importers import import_checkpoint
    from optimist.core.models.wrap import wrap

    if not isinstance(spec, str) or not spec.strip():
        raise ModelSpecError(f"a model spec must be non-empty text, got {spec!r}; {_usage()}")
    text, _, query = spec.strip().partition("?")
    opts = {**_options(query), **options}
    bad = sorted(set(opts) - set(_OPTIONS))
    if bad:
        raise ModelSpecError(f"unknown model option(s) {bad}; valid options: {', '.join(_OPTIONS)}")
    kind, sep, rest = text.partition(":")
    if sep and kind in KINDS:
        if not rest:
            raise ModelSpecError(f"model spec {spec!r} names nothing after '{kind}:'; {_usage()}")
    elif Path(text).expanduser().exists():
        model = load_model(text)
        model.spec = spec
        return model
    elif zoo.known(text):
        kind, rest = "zoo", text
    elif sep and len(kind) > 1:
        raise ModelSpecError(f"unknown model spec kind {kind!r} in {spec!r}; {_usage()}")
    else:
        raise ModelSpecError(f"{spec!r} is neither an existing checkpoint path nor a zoo name "
                             f"(see `optimist zoo recipes`); {_usage()}")

    if kind == "zoo":
        if not zoo.known(rest):
            raise ModelSpecError(f"unknown zoo model {rest!r}; see `optimist zoo recipes`")
        model = zoo.get(rest)
    elif kind in ("robustbench", "robustness"):
        file, arch = _split_file_arch(rest)
        if not Path(file).expanduser().is_file():
            raise CheckpointError(f"no checkpoint file at {file} (from model spec {spec!r})")
        model = import_checkpoint(file, kind, arch, **{k: v for k, v in opts.items() if k != "feature_layer"})
    else:
        parts = rest.split(":")
        if kind == "torchvision":
            name, weights = parts[0], (":".join(parts[1:]) or None)
            source = f"torchvision:{name}"
            defaults = {"in_channels": 3, "image_size": 224, "mean": (0.485, 0.456, 0.406),
                        "std": (0.229, 0.224, 0.225)}
        else:
            if len(parts) < 2:
                raise ModelSpecError(f"python spec needs package.module:factory, got {spec!r}")
            name, weights = parts[1], (":".join(parts[2:]) or None)
            source = f"python:{parts[0]}:{parts[1]}"
            defaults = {}
        num_classes = opts.get("num_classes")
        if weights is not None and num_classes is None:
            sd = _read_state_dict(weights)
            heads = [v for k, v in sd.items() if v.ndim == 2]
            num_classes = int(heads[-1].shape[0]) if heads else None
        module = build_source(source, num_classes if kind == "torchvision" else None)
        if weights is not None:
            _load_state(module, weights, source)  # without a file: the factory's own (e.g. random) weights
        in_channels = opts.get("in_channels") or defaults.get("in_channels") or _first_conv_channels(module)
        image_size = opts.get("image_size") or defaults.get("image_size") or getattr(module, "image_size", None)
        if in_channels is None or image_size is None:
            raise ModelSpecError(f"cannot tell the input shape of {spec!r}; add ?in_channels=C&image_size=S")
        model = wrap(module, num_classes=num_classes or _head_shape(module) or 0, in_channels=in_channels,
                     image_size=image_size, mean=opts.get("mean", defaults.get("mean")),
                     std=opts.get("std", defaults.get("std")), feature_layer=opts.get("feature_layer"),
                     source=source)
    model.spec = spec
    return model.eval()
