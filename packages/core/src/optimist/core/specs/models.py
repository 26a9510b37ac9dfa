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

from pathlib import Path
from typing import Any

from torch import nn

from optimist.core import zoo
from optimist.core.checkpoints import load_into, load_model
from optimist.core.errors import CheckpointError, ModelSpecError
from optimist.core.importers import import_checkpoint, read_state_dict
from optimist.core.models.sources import build_source
from optimist.core.models.wrap import wrap

KINDS = ("zoo", "robustbench", "robustness", "torchvision", "python")
_OPTIONS = ("num_classes", "in_channels", "image_size", "mean", "std", "feature_layer")


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


def _head_shape(module: nn.Module) -> int | None:
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return linears[-1].out_features if linears else None


def _first_conv_channels(module: nn.Module) -> int | None:
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    return convs[0].in_channels if convs else None


def _load_state(module: nn.Module, weights: str, source: str) -> None:
    sd = read_state_dict(weights)
    sd = {k[7:] if k.startswith("module.") else k: v for k, v in sd.items()}
    load_into(module, sd, source=f"{weights} (as {source})")


def resolve_model(spec: str, *, progress: bool = True, **options: Any) -> nn.Module:
    """The model a spec names (see the module docstring), in eval mode, with ``.spec`` set to the spec.

    ``options`` (``num_classes``, ``in_channels``, ``image_size``, ``mean``, ``std``, ``feature_layer``) fill in
    what the file does not say, like the ``?key=value`` suffix.
    """
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
        model = zoo.get(rest, progress=progress)
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
            sd = read_state_dict(weights)
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
