"""Checkpoints as data: safetensors weights plus a JSON model card, written atomically.

A checkpoint is a folder holding ``model.safetensors`` (the card is also embedded in its metadata, so the
file alone is self-describing), ``card.json`` and, for training runs, ``state.pt`` (optimiser, scheduler, RNG,
history; tensors and plain values only, read with ``torch.load(weights_only=True)``). A training run keeps
``epoch-NNNN`` checkpoint folders and a ``latest.json`` pointer, each replaced atomically, so a crash never
leaves the last good checkpoint unreadable. Nothing here unpickles arbitrary objects.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from optimist.core.errors import CheckpointError
from optimist.core.files import atomic_write_text, readable
from optimist.core.models import build_model
from optimist.core.models.sources import build_source
from optimist.core.models.wrap import WrappedClassifier
from optimist.core.runtime import library_versions

CARD_KEY = "optimist_card"
WEIGHTS = "model.safetensors"
CARD = "card.json"
STATE = "state.pt"
LATEST = "latest.json"




def weights_hash(weights: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes (in name order): the card's content hash."""
    h = hashlib.sha256()
    for name in sorted(weights):
        t = weights[name].detach().contiguous().cpu()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _write_folder(folder: Path, model: nn.Module, card: dict, state: dict | None) -> None:
    weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    card = {**card, "weights_sha256": weights_hash(weights)}
    save_file(weights, str(folder / WEIGHTS), metadata={CARD_KEY: json.dumps(card)})
    (folder / CARD).write_text(json.dumps(card, indent=2))
    if state is not None:
        torch.save(state, folder / STATE)
    for f in folder.iterdir():
        readable(f)


def save_checkpoint(path: str | os.PathLike, model: nn.Module, card: dict, state: dict | None = None) -> Path:
    """Write a checkpoint folder at ``path`` atomically: it is complete or it is not there.

    An existing folder at ``path`` is replaced only after the new one is fully written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    readable(tmp, folder=True)
    try:
        _write_folder(tmp, model, card, state)
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def save_model(path: str | os.PathLike, model: nn.Module, card: dict | None = None) -> Path:
    """Save a registry or wrapped model with a card (architecture filled in) as a checkpoint folder."""
    if not hasattr(model, "config"):
        raise CheckpointError(f"{type(model).__name__} is not an Optimist classifier; wrap it first "
                              "(optimist.core.models.wrap(model, ..., source='torchvision:NAME'))")
    full = {**(getattr(model, "card", None) or {}), **(card or {}), "model": model.config(),
            "versions": library_versions()}
    full.pop("weights_sha256", None)
    return save_checkpoint(path, model, full)


def resolve(path: str | os.PathLike) -> Path:
    """A run folder (follows ``latest.json``), a checkpoint folder, or a ``.safetensors`` file."""
    path = Path(path).expanduser()
    if path.is_dir() and (path / LATEST).is_file():
        try:
            target = json.loads((path / LATEST).read_text())["checkpoint"]
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"{path / LATEST} is corrupt ({e}); delete it to fall back to a folder") from e
        return path / target
    if path.is_dir() or path.suffix == ".safetensors":
        return path
    if path.exists():
        raise CheckpointError(
            f"{path} is not an Optimist checkpoint (a folder with {WEIGHTS} or a .safetensors file). "
            "For MadryLab robustness or RobustBench .pt files use optimist.core.importers.import_checkpoint."
        )
    raise CheckpointError(f"no checkpoint at {path}")


def read_card(path: str | os.PathLike) -> dict:
    """The model card of a checkpoint (folder, run folder or .safetensors file)."""
    path = resolve(path)
    card_file = path / CARD if path.is_dir() else path.with_name(CARD)
    if card_file.is_file():
        try:
            return json.loads(card_file.read_text())
        except ValueError as e:
            raise CheckpointError(f"model card {card_file} is corrupt: {e}") from e
    weights = path / WEIGHTS if path.is_dir() else path
    if not weights.is_file():
        raise CheckpointError(f"no {WEIGHTS} in {path}")
    try:
        from safetensors import safe_open

        with safe_open(str(weights), "pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{weights} is truncated or not a safetensors file: {e}") from e
    if CARD_KEY not in meta:
        raise CheckpointError(f"{weights} carries no Optimist model card; load its weights with a matching "
                              "architecture via model.load_state_dict(safetensors.torch.load_file(...))")
    return json.loads(meta[CARD_KEY])


def load_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    path = resolve(path)
    weights = path / WEIGHTS if path.is_dir() else path
    if not weights.is_file():
        raise CheckpointError(f"no {WEIGHTS} in {path}")
    try:
        return load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{weights} is truncated or corrupt and cannot be read: {e}") from e


def load_into(model: nn.Module, weights: dict[str, torch.Tensor], source: str = "checkpoint") -> nn.Module:
    """``load_state_dict`` with a readable error for missing, unexpected or mis-shaped tensors."""
    own = model.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    shapes = [f"{k}: {tuple(weights[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in weights and weights[k].shape != v.shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} tensors (e.g. {unexpected[:3]})")
        if shapes:
            parts.append(f"shape mismatches: {shapes[:3]}")
        raise CheckpointError(f"{source} does not match the architecture: " + "; ".join(parts))
    model.load_state_dict(weights)
    return model


def _rebuild(cfg: dict, path, module: nn.Module | None) -> nn.Module:
    if cfg["arch"] == "wrapped":
        if module is None:
            if not cfg.get("source"):
                raise CheckpointError(f"{path} holds a wrapped model saved without a source; pass the bare "
                                      "module: load_model(path, module=MyNet())")
            module = build_source(cfg["source"], cfg["num_classes"] if cfg["source"].startswith("torchvision:")
                                  else None)
        return WrappedClassifier(module, cfg["head"], num_classes=cfg["num_classes"],
                                 in_channels=cfg["in_channels"], image_size=cfg["image_size"], mean=cfg["mean"],
                                 std=cfg["std"], source=cfg.get("source"))
    return build_model(cfg["arch"], cfg["num_classes"], cfg["in_channels"], cfg["image_size"],
                       cfg.get("mean"), cfg.get("std"))


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu", *,
               module: nn.Module | None = None) -> nn.Module:
    """Rebuild the architecture named in the card and load its weights; returns the model in eval mode.

    The weights must match the card's content hash (``weights_sha256``). A wrapped model rebuilds its module
    from the recorded source, or from ``module`` (the bare network, e.g. ``MyNet()``) when it has none.
    """
    card = read_card(path)
    cfg = card.get("model")
    if not isinstance(cfg, dict) or "arch" not in cfg:
        raise CheckpointError(f"the model card of {path} has no 'model' section naming the architecture")
    try:
        model = _rebuild(cfg, path, module)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"the model card of {path} describes no buildable model: {e}") from e
    weights = load_weights(path)
    expected = card.get("weights_sha256")
    if expected is not None and weights_hash(weights) != expected:
        weights_file = resolve(path)
        weights_file = weights_file / WEIGHTS if weights_file.is_dir() else weights_file
        raise CheckpointError(f"{weights_file} does not match its model card's content hash (weights_sha256): "
                              "the weights were changed or replaced after saving. Restore the file or re-save "
                              "the model.")
    load_into(model, weights, source=str(path))
    model.card = card
    return model.to(map_location).eval()


def load_state(path: str | os.PathLike) -> dict[str, Any]:
    """The training state of a checkpoint folder, read without unpickling code."""
    path = resolve(path)
    file = path / STATE
    if not file.is_file():
        raise CheckpointError(f"{path} holds no training state ({STATE}); it cannot be resumed")
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated / hostile files
        raise CheckpointError(f"training state {file} is corrupt or holds objects other than tensors: {e}") from e


def write_latest(run_dir: str | os.PathLike, checkpoint: str | os.PathLike) -> None:
    run_dir = Path(run_dir)
    rel = os.path.relpath(checkpoint, run_dir)
    atomic_write_text(run_dir / LATEST, json.dumps({"checkpoint": rel}))
