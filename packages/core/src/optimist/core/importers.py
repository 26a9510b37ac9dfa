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
from optimist.core.models import Classifier, build_model

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


def _map_keys(sd: dict[str, torch.Tensor], fmt: str, model: Classifier) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    c = model.in_channels
    for key, value in sd.items():
        if fmt == "robustness":
            if key.startswith("module.attacker.") or key.startswith("attacker."):
                continue  # the attacker holds a second copy of the same model
            if "normalizer." in key:
                name = key.split("normalizer.")[-1].replace("new_", "")
                if name in ("mean", "std"):
                    out[f"normalize.{name}"] = value.reshape(1, c, 1, 1).float()
                continue
            key = _strip(key, ("module.", "model."))
        else:
            key = _strip(key, ("module.", "model."))
            if key.startswith("normalize.") or key in ("mean", "std") or key.startswith("0."):
                name = key.split(".")[-1]
                if name in ("mean", "std"):
                    out[f"normalize.{name}"] = value.reshape(1, c, 1, 1).float()
                continue
            if key.startswith("1."):  # nn.Sequential(normalizer, model)
                key = key[2:]
        key = key.replace(".shortcut.", ".downsample.")
        if key.startswith(_HEAD_NAMES):
            out["head." + key.split(".", 1)[1]] = value
        else:
            out["body." + key] = value
    return out


def import_checkpoint(
    path: str | os.PathLike,
    format: str,
    arch: str,
    num_classes: int,
    in_channels: int = 3,
    image_size: int = 32,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Classifier:
    """Load a MadryLab ``robustness`` or RobustBench checkpoint into registry architecture ``arch``.

    ``mean``/``std`` set the normalisation when the file stores none (RobustBench models usually take
    [0, 1] input with normalisation inside; pass ``mean=(0,)*3, std=(1,)*3`` for those with none at all).
    Returns the model in eval mode; save it with :func:`optimist.core.checkpoints.save_model`.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown checkpoint format {format!r}; choose one of {', '.join(FORMATS)}")
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    model = build_model(arch, num_classes, in_channels, image_size, mean, std)
    sd = _map_keys(_state_dict(_read(path), path), format, model)
    own = model.state_dict()
    for name in ("normalize.mean", "normalize.std"):
        sd.setdefault(name, own[name])
    load_into(model, sd, source=f"{path} ({format} format, as {arch})")
    return model.eval()
