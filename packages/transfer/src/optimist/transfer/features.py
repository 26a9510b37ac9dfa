"""Penultimate features of a source model on a dataset: batched, and cached in memory and on disk.

Features are a pure function of the weights and the images, so the cache key is a hash of the model's
state dict (the checkpoint's identity, whatever its file name) and a hash of the dataset's images and
labels, with a readable label (e.g. ``digits-train``) in the file name. Extracting the same model on the
same split twice therefore costs one forward pass.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from optimist.core.data import make_loader
from optimist.core.errors import InputError
from optimist.core.models import require_classifier
from optimist.core.paths import optimist_home
from optimist.core.runtime import preserved
from optimist.transfer.splits import labels_of


def model_fingerprint(model: nn.Module) -> str:
    """A hash of every parameter and buffer (names, shapes, values): two checkpoints of equal weights match."""
    h = hashlib.blake2b(digest_size=16)
    cfg = getattr(model, "config", None)
    h.update(repr(cfg() if callable(cfg) else type(model).__name__).encode())
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def dataset_fingerprint(dataset: Dataset) -> str:
    """A hash of a dataset's content: images and labels in memory, or file paths for an image folder."""
    h = hashlib.blake2b(digest_size=16)
    h.update(str(len(dataset)).encode())
    images = getattr(dataset, "images", None)
    if isinstance(images, torch.Tensor):
        h.update(str(tuple(images.shape)).encode())
        h.update(images.detach().cpu().contiguous().numpy().tobytes())
    elif getattr(dataset, "data", None) is not None and hasattr(dataset, "transform"):
        data = dataset.data  # torchvision MNIST/CIFAR style: raw array plus a transform
        h.update(np.ascontiguousarray(data.numpy() if isinstance(data, torch.Tensor) else np.asarray(data)).tobytes())
        h.update(repr(dataset.transform).encode())
    else:
        folder = getattr(dataset, "folder", dataset)
        samples = getattr(folder, "samples", None)
        if samples is None:
            raise InputError(f"cannot fingerprint {type(dataset).__name__}: pass key= to extract_features "
                             "(a string naming the data), or cache=False")
        for path, label in samples:
            st = os.stat(path)
            h.update(f"{path}|{label}|{st.st_size}|{st.st_mtime_ns}".encode())
        transform = getattr(folder, "transform", None)
        h.update(repr(transform).encode())
    h.update(labels_of(dataset).tobytes())
    return h.hexdigest()


def match_input(x: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """Bring images to the model's channels and size: average or repeat channels, resize bilinearly."""
    channels = getattr(model, "in_channels", x.shape[1])
    size = getattr(model, "image_size", x.shape[-1])
    if x.shape[1] != channels:
        if channels == 1:
            x = x.mean(dim=1, keepdim=True)
        elif x.shape[1] == 1:
            x = x.expand(-1, channels, -1, -1)
        else:
            raise InputError(f"images have {x.shape[1]} channels but the model takes {channels}")
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    return x


def _batches(dataset: Dataset, batch_size: int):
    return make_loader(dataset, batch_size=batch_size, shuffle=False)


@torch.no_grad()
def compute_features(model: nn.Module, dataset: Dataset, *, batch_size: int = 512, device: str | torch.device = "cpu",
                     progress: bool = False, desc: str = "features") -> tuple[np.ndarray, np.ndarray]:
    """``model.features`` on every image of ``dataset`` (no cache): (N, feature_dim) float32 and (N,) labels.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.data import from_tensors
    >>> from optimist.core.models import build_model
    >>> toy = from_tensors(torch.rand(8, 1, 28, 28), torch.arange(8) % 2, name="toy")
    >>> features, labels = compute_features(build_model("small-cnn", 10, 1, 28).eval(), toy)
    >>> features.shape, features.dtype, labels.shape
    ((8, 128), dtype('float32'), (8,))
    """
    require_classifier(model, "compute_features")
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    feats, labels = [], []
    with preserved(model):  # eval mode and the device for the duration; the caller's model comes back as it was
        model.eval().to(device)
        for x, y in tqdm(_batches(dataset, batch_size), desc=desc, disable=not progress, leave=False):
            x = match_input(torch.as_tensor(x).float(), model).to(device)
            feats.append(model.features(x).float().cpu())
            labels.append(torch.as_tensor(y).long())
    if not feats:
        raise InputError("the dataset is empty")
    return torch.cat(feats).numpy(), torch.cat(labels).numpy()


@dataclass
class FeatureCache:
    """Features by (model hash, data hash): in memory, and on disk under ``root`` if given.

    ``computed`` counts forward passes actually run; ``hits`` counts answers served from the cache.
    """

    root: Path | None = None
    memory: dict = field(default_factory=dict)
    computed: int = 0
    hits: int = 0

    def path(self, model_id: str, data_id: str, label: str) -> Path | None:
        if self.root is None:
            return None
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in label) or "data"
        return Path(self.root) / model_id / f"{safe}-{data_id}.npz"

    def load(self, model_id: str, data_id: str, label: str) -> tuple[np.ndarray, np.ndarray] | None:
        key = (model_id, data_id)
        if key in self.memory:
            self.hits += 1
            return self.memory[key]
        path = self.path(model_id, data_id, label)
        if path is not None and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as z:
                    value = (z["features"], z["labels"])
            except (OSError, ValueError, KeyError):
                return None  # unreadable cache file: recompute and overwrite
            self.memory[key] = value
            self.hits += 1
            return value
        return None

    def store(self, model_id: str, data_id: str, label: str, value: tuple[np.ndarray, np.ndarray]) -> None:
        self.memory[(model_id, data_id)] = value
        path = self.path(model_id, data_id, label)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, features=value[0], labels=value[1])
            os.replace(tmp, path)  # readers see the whole file or none
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


_DEFAULT_CACHES: dict[str, FeatureCache] = {}


def default_cache() -> FeatureCache:
    """The process-wide cache backed by ``$OPTIMIST_HOME/features`` (re-read if OPTIMIST_HOME changes)."""
    root = optimist_home() / "features"
    return _DEFAULT_CACHES.setdefault(str(root), FeatureCache(root))


def extract_features(model: nn.Module, dataset: Dataset, *, cache: FeatureCache | bool | None = None,
                     label: str | None = None, key: str | None = None, batch_size: int = 512,
                     device: str | torch.device = "cpu", progress: bool = False,
                     fingerprint: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate features and labels of ``dataset`` under ``model``, from the cache when possible.

    ``cache``: a :class:`FeatureCache`, ``None`` for :func:`default_cache`, or ``False`` to always compute.
    ``label`` names the data in cache file names (e.g. ``"digits-test"``); ``key`` replaces the content hash
    for datasets that cannot be hashed; ``fingerprint`` passes a precomputed :func:`dataset_fingerprint` (to
    hash a split once when many models see it).

    Examples
    --------
    >>> import torch
    >>> from optimist.core.data import from_tensors
    >>> from optimist.core.models import build_model
    >>> toy = from_tensors(torch.rand(8, 1, 28, 28), torch.arange(8) % 2, name="toy")
    >>> features, labels = extract_features(build_model("small-cnn", 10, 1, 28).eval(), toy, cache=False)
    >>> features.shape, labels.shape
    ((8, 128), (8,))
    """
    if cache is False:
        return compute_features(model, dataset, batch_size=batch_size, device=device, progress=progress)
    cache = default_cache() if cache is None or cache is True else cache
    model_id = model_fingerprint(model)
    if key:
        data_id = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    elif fingerprint:
        data_id = fingerprint
    else:
        try:
            data_id = dataset_fingerprint(dataset)
        except ValueError as e:
            warnings.warn(f"features not cached: {e}", stacklevel=2)
            return compute_features(model, dataset, batch_size=batch_size, device=device, progress=progress)
    label = label or getattr(getattr(dataset, "info", None), "name", "data")
    found = cache.load(model_id, data_id, label)
    if found is not None:
        return found
    value = compute_features(model, dataset, batch_size=batch_size, device=device, progress=progress,
                             desc=f"features {label}")
    cache.computed += 1
    cache.store(model_id, data_id, label, value)
    return value
