"""Import the checkpoints researchers already have: MadryLab ``robustness`` and RobustBench.

Files are read with ``torch.load(weights_only=True)``: tensors and plain containers only, never code.
The weights are mapped onto a registry architecture (the ``fc``/``linear`` layer becomes Optimist's
``head``, the rest its ``body``, a stored normaliser its ``normalize`` module) and loaded strictly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import torch

from optimist.core.checkpoints import CheckpointError, load_into
from optimist.core.errors import InputError
from optimist.core.models import MODELS, Classifier, build_model

FORMATS = ("robustness", "robustbench")
_HEAD_NAMES = ("fc.", "linear.", "classifier.")


def _read(path: Path) -> dict:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError for code-carrying pickles, RuntimeError/EOFError for truncated files
        raise CheckpointError(
            f"{path} could not be read as plain tensors ({type(e).__name__}: {str(e).splitlines()[0][:200]}). "
            "Optimist never unpickles code: if you trust the file, extract its state_dict in a separate "
            "environment and save it with torch.save(state_dict, ...) or safetensors."
        ) from e
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a state dict")
    return obj


def _state_dict(obj: dict, path: Path) -> dict[str, torch.Tensor]:
    for key in ("model", "state_dict", "model_state_dict"):
        if key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{path} contains no tensors under 'model', 'state_dict' or at the top level")
    return tensors


def _strip(key: str, prefixes: Sequence[str]) -> str:
    changed = True
    while changed:
        changed = False
        for p in prefixes:
            if key.startswith(p):
                key, changed = key[len(p):], True
    return key


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a ``.pt``/``.pth`` checkpoint (under ``model``/``state_dict`` or at the top level).

    Read with ``weights_only=True``: tensors and plain containers only. Files written with
    ``pickle_module=dill`` that hold only such objects (MadryLab's optimizer and schedule entries) load too.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    return _state_dict(_read(path), path)


def _clean_keys(sd: dict[str, torch.Tensor], fmt: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(network tensors with wrapper prefixes removed, normaliser tensors {"mean"/"std": ...})."""
    net: dict[str, torch.Tensor] = {}
    norm: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        if fmt == "robustness" and (key.startswith("module.attacker.") or key.startswith("attacker.")):
            continue  # the attacker holds a second copy of the same model
        key = _strip(key, ("module.", "model."))
        if "normalizer." in key or key.startswith("normalize.") or key in ("mean", "std") or key.startswith("0."):
            name = key.split(".")[-1].replace("new_", "")
            if name in ("mean", "std"):
                norm[name] = value
                continue
        if key.startswith("1."):  # RobustBench's nn.Sequential(normalizer, model)
            key = key[2:]
        if key.startswith("sub_block1."):
            continue  # an unused duplicate of block1 in TRADES' WideResNet code; not part of the forward pass
        net[key] = value
    return net, norm


def guess_architecture(sd: dict[str, torch.Tensor]) -> str:
    """The registry architecture whose layout a (cleaned) state dict most likely has; ValueError if none."""
    keys = set(sd)
    conv1 = sd.get("conv1.weight")
    if any(k.startswith("block1.layer.") for k in keys):
        n = len({k.split(".")[2] for k in keys if k.startswith("block1.layer.")})
        width = int(sd["block1.layer.0.conv1.weight"].shape[0]) // 16 if "block1.layer.0.conv1.weight" in sd else 0
        name = f"wrn-{6 * n + 4}-{width}"
        if name in MODELS:
            return name
        raise InputError(f"the file holds a WideResNet-{6 * n + 4}-{width}, which the registry lacks "
                         f"(it has {', '.join(m for m in MODELS if m.startswith('wrn'))})")
    big_stem = conv1 is not None and conv1.shape[-1] == 7
    if "layer1.0.conv3.weight" in keys:
        return "tv-resnet50" if big_stem else "resnet50"
    if "layer1.0.conv1.weight" in keys:
        if "bn1.weight" in keys:
            return "tv-resnet18" if big_stem else "resnet18"
        return "preact-resnet18-bn" if "bn.weight" in keys else "preact-resnet18"
    if any(k.startswith("body.") for k in keys):
        raise InputError("the file looks like an Optimist state dict; load it with optimist.core.checkpoints")
    raise InputError(f"no registry architecture has this layout (first keys: {sorted(keys)[:4]})")


def _map_keys(net: dict[str, torch.Tensor], model: Classifier) -> dict[str, torch.Tensor]:
    """Cleaned keys onto Optimist's ``body.`` / ``head.`` names (``shortcut`` is torchvision's ``downsample``)."""
    own = set(model.state_dict())
    out: dict[str, torch.Tensor] = {}
    for key, value in net.items():
        if key.startswith(_HEAD_NAMES):
            out["head." + key.split(".", 1)[1]] = value
            continue
        name = "body." + key
        alt = "body." + key.replace(".shortcut.", ".downsample.")
        out[alt if name not in own and alt in own else name] = value
    return out


def _infer(net: dict[str, torch.Tensor]) -> tuple[int | None, int | None]:
    heads = [v for k, v in net.items() if k.startswith(_HEAD_NAMES) and k.endswith("weight") and v.ndim == 2]
    convs = [v for k, v in net.items() if v.ndim == 4]
    return (int(heads[-1].shape[0]) if heads else None), (int(convs[0].shape[1]) if convs else None)


def import_checkpoint(
    path: str | os.PathLike,
    format: str,
    arch: str | None = None,
    num_classes: int | None = None,
    in_channels: int | None = None,
    image_size: int | None = None,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Classifier:
    """Load a MadryLab ``robustness`` or RobustBench checkpoint into registry architecture ``arch``.

    ``arch`` is guessed from the file's layout when omitted (:func:`guess_architecture`); ``num_classes`` and
    ``in_channels`` are read from the head and the first convolution, ``image_size`` defaults to 32 (224 for
    the ImageNet ``tv-*`` architectures). A normaliser stored in the file (MadryLab's ``normalizer``,
    RobustBench's ImageNet ``Sequential(normalize, model)``) becomes the model's ``normalize``; otherwise
    ``mean``/``std`` set it, and without them the model applies none (RobustBench models take [0, 1] input).
    Returns the model in eval mode with the same logits as the original; save it with
    :func:`optimist.core.checkpoints.save_model`.
    """
    if format not in FORMATS:
        raise InputError(f"unknown checkpoint format {format!r}; choose one of {', '.join(FORMATS)}")
    path = Path(path).expanduser()
    net, norm = _clean_keys(read_state_dict(path), format)
    if arch is None:
        try:
            arch = guess_architecture(net)
        except ValueError as e:
            raise CheckpointError(f"{path}: cannot tell the architecture ({e}); name it, e.g. FILE:wrn-28-10") from e
    heads, channels = _infer(net)
    num_classes = num_classes or heads or 10
    in_channels = in_channels or channels or 3
    image_size = image_size or (224 if arch.startswith("tv-") else 32)
    if "mean" in norm:
        mean = norm["mean"].flatten().tolist()
        std = norm["std"].flatten().tolist()
    model = build_model(arch, num_classes, in_channels, image_size,
                        mean if mean is not None else (0.0,) * in_channels,
                        std if std is not None else (1.0,) * in_channels)
    sd = _map_keys(net, model)
    own = model.state_dict()
    for name in ("normalize.mean", "normalize.std"):
        sd[name] = own[name]
    try:
        load_into(model, sd, source=f"{path} ({format} format, as {arch})")
    except CheckpointError as e:
        try:
            likely = guess_architecture(net)
        except ValueError:
            likely = None
        hint = f"; its layout looks like {likely!r}: try {format}:{path}:{likely}" if likely and likely != arch else ""
        raise CheckpointError(f"{e}{hint}") from e
    model.card = {"source": {"format": format, "file": str(path), "arch": arch}}
    return model.eval()
