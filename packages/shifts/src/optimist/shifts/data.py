"""Corrupted test sets on disk: Fashion-MNIST-C (made here, cached) and published CIFAR-10-C / ImageNet-C folders.

Layout (that of the published CIFAR-10-C): a folder with ``<corruption>.npy``, uint8 of shape ``(5 N, H, W)`` or
``(5 N, H, W, C)`` holding severities 1..5 one after the other, and ``labels.npy`` (``N`` or ``5 N`` labels).

- :func:`load_c_folder` reads one corruption and severity from such a folder (CIFAR-10-C, a 64x64 ImageNet-C
  conversion, or one written by :func:`write_c_folder`).
- :func:`load_corrupted` is Fashion-MNIST-C: every corruption of :mod:`optimist.shifts.corruptions` at every
  severity over the 10,000 test images, made on first use (one corruption file at a time) and cached under
  ``$OPTIMIST_HOME/datasets/fashion-mnist-c/seed<S>/``.
- Data specs (the ``optimist.datasets`` entry points): ``fashion-mnist-c:CORRUPTION:SEVERITY`` and
  ``c-folder:PATH:CORRUPTION:SEVERITY``, both taking ``?n=N``.

Nothing here downloads anything.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from optimist.core.data import DatasetInfo, ImageTensorDataset, load_dataset
from optimist.core.data.datasets import FASHION_MNIST_CLASSES
from optimist.core.errors import InputError
from optimist.core.paths import optimist_home
from optimist.shifts.corruptions import check_corruption, check_severity, corrupt, corruption_names

VERSION = 1  # bump when a corruption's definition changes: cached files of another version are rebuilt


def _save_npy(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            np.save(f, array)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [0, 1] -> (N, H, W) or (N, H, W, C) uint8, as the published sets store them."""
    a = np.round(images.detach().cpu().clamp(0, 1).numpy() * 255).astype(np.uint8)
    return a[:, 0] if a.shape[1] == 1 else a.transpose(0, 2, 3, 1)


def from_uint8(a: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, C) -> float (N, C, H, W) in [0, 1]."""
    if a.dtype != np.uint8:
        raise InputError(f"corruption arrays must be uint8, got {a.dtype}")
    t = torch.from_numpy(np.array(a)).float() / 255
    return t[:, None] if t.ndim == 3 else t.permute(0, 3, 1, 2).contiguous()


def severity_stack(images: torch.Tensor, name: str, *, seed: int = 0) -> torch.Tensor:
    """(5, N, C, H, W): ``images`` under ``name`` at severities 1..5, rounded to 1/255 as stored on disk."""
    out = torch.stack([corrupt(images, name, s, seed=seed) for s in range(1, 6)])
    return torch.round(out * 255) / 255


def write_c_folder(folder: str | os.PathLike, images: torch.Tensor, labels: torch.Tensor,
                   corruptions: Sequence[str] | None = None, *, seed: int = 0, progress: bool = False) -> Path:
    """Write ``images`` under each corruption and severity in the CIFAR-10-C layout; existing files are kept."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = list(corruptions or corruption_names())
    for n in names:
        check_corruption(n)
    meta_path = folder / "meta.json"
    meta = {"version": VERSION, "seed": seed, "n": len(images), "shape": list(images.shape[1:])}
    if meta_path.exists() and json.loads(meta_path.read_text()) != meta:
        for f in folder.glob("*.npy"):
            f.unlink()
    meta_path.write_text(json.dumps(meta))
    if not (folder / "labels.npy").exists():
        _save_npy(folder / "labels.npy", labels.cpu().numpy().astype(np.int64))
    it = names
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(names, desc="corruptions", leave=False)
    for name in it:
        path = folder / f"{name}.npy"
        if path.exists():
            continue
        stack = severity_stack(images, name, seed=seed)
        _save_npy(path, to_uint8(stack.reshape(-1, *images.shape[1:])))
    return folder


def c_folder_corruptions(path: str | os.PathLike) -> tuple[str, ...]:
    """Corruptions available in a CIFAR-10-C style folder (every ``*.npy`` but ``labels.npy``)."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise FileNotFoundError(f"no corruption folder at {p}")
    return tuple(sorted(f.stem for f in p.glob("*.npy") if f.stem != "labels"))


def load_c_folder(path: str | os.PathLike, corruption: str, severity: int, *, n: int | None = None,
                  class_names: Sequence[str] | None = None, name: str | None = None):
    """One corruption at one severity from a CIFAR-10-C style folder, as an ImageTensorDataset.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())  # a tiny CIFAR-10-C style folder: 5 severities x 2 images
    >>> np.save(folder / "fog.npy", np.zeros((5 * 2, 32, 32, 3), dtype=np.uint8))
    >>> np.save(folder / "labels.npy", np.array([3, 7]))
    >>> fog = load_c_folder(folder, "fog", severity=5)
    >>> len(fog), tuple(fog[0][0].shape), fog[0][1]
    (2, (3, 32, 32), 3)
    """
    p = Path(path).expanduser()
    available = c_folder_corruptions(p)
    if corruption not in available:
        raise InputError(f"{p} holds no {corruption!r}; it holds: {', '.join(available) or 'no .npy files'}")
    severity = check_severity(severity)
    if severity == 0:
        raise InputError("severity must be 1..5 for a corruption folder (severity 0, the clean images, is not "
                         "stored there)")
    if not (p / "labels.npy").exists():
        raise FileNotFoundError(f"{p} has no labels.npy")
    arr = np.load(p / f"{corruption}.npy", mmap_mode="r")
    if arr.ndim not in (3, 4) or len(arr) % 5:
        raise InputError(f"{p / (corruption + '.npy')} must hold 5 severities x N images (5N, H, W[, C]); "
                         f"got shape {arr.shape}")
    per = len(arr) // 5
    labels = np.load(p / "labels.npy")
    if len(labels) == 5 * per:
        labels = labels[(severity - 1) * per:severity * per]
    elif len(labels) != per:
        raise InputError(f"{p / 'labels.npy'} has {len(labels)} labels; expected {per} or {5 * per}")
    k = per if n is None else min(int(n), per)
    x = from_uint8(np.asarray(arr[(severity - 1) * per:(severity - 1) * per + k]))
    y = torch.from_numpy(np.asarray(labels[:k]).astype(np.int64))
    classes = tuple(class_names) if class_names else tuple(str(i) for i in range(int(labels.max()) + 1))
    c, h = x.shape[1], x.shape[-1]
    info = DatasetInfo(name or f"{p.name}:{corruption}:{severity}", classes, c, h, (0.5,) * c, (0.5,) * c)
    return ImageTensorDataset(x, y, info)


def fashion_mnist_c_folder(seed: int = 0) -> Path:
    return optimist_home() / "datasets" / "fashion-mnist-c" / f"seed{seed}"


def build_fashion_mnist_c(corruptions: Sequence[str] | None = None, *, seed: int = 0,
                          progress: bool = True) -> Path:
    """Make (or complete) the cached Fashion-MNIST-C: the 10,000 test images under every corruption x severity.

    Examples
    --------
    >>> # skipped when run as a doctest: it corrupts all 10,000 Fashion-MNIST test images at every severity
    >>> folder = build_fashion_mnist_c(["gaussian_noise", "fog"], progress=False)  # doctest: +SKIP
    """
    test = load_dataset("fashion-mnist", "test")
    return write_c_folder(fashion_mnist_c_folder(seed), test.images, test.targets, corruptions, seed=seed,
                          progress=progress)


def load_corrupted(corruption: str, severity: int, *, n: int | None = None, seed: int = 0,
                   path: str | os.PathLike | None = None):
    """Fashion-MNIST-C (or, with ``path``, a published CIFAR-10-C / ImageNet-C folder): one corruption, one severity.

    Fashion-MNIST-C is made on first use, one corruption (all five severities, 10,000 images) at a time.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())  # a tiny CIFAR-10-C style folder: 5 severities x 2 images
    >>> np.save(folder / "fog.npy", np.zeros((5 * 2, 32, 32, 3), dtype=np.uint8))
    >>> np.save(folder / "labels.npy", np.array([3, 7]))
    >>> fog = load_corrupted("fog", 2, path=folder)
    >>> len(fog), tuple(fog[0][0].shape)
    (2, (3, 32, 32))
    >>> noisy = load_corrupted("gaussian_noise", 3, n=100)  # doctest: +SKIP
    """
    if path is not None:
        return load_c_folder(path, corruption, severity, n=n)
    check_corruption(corruption)
    severity = check_severity(severity)
    if severity == 0:
        test = load_dataset("fashion-mnist", "test")
        k = len(test) if n is None else min(int(n), len(test))
        return ImageTensorDataset(test.images[:k], test.targets[:k], test.info)
    folder = build_fashion_mnist_c([corruption], seed=seed, progress=False)
    return load_c_folder(folder, corruption, severity, n=n, class_names=FASHION_MNIST_CLASSES,
                         name=f"fashion-mnist-c:{corruption}:{severity}")


# ------------------------------------------------------------------------------------------- data specs

def _n_option(options: dict | None) -> int | None:
    options = dict(options or {})
    n = options.pop("n", None)
    if options:
        raise InputError(f"corrupted data specs take only ?n=N, got {sorted(options)}")
    return n


def _corruption_severity(text: str, spec: str) -> tuple[str, int]:
    name, _, sev = text.rpartition(":")
    if not name or not sev.isdigit():
        raise InputError(f"{spec} needs CORRUPTION:SEVERITY, e.g. fog:3; corruptions: {', '.join(corruption_names())}")
    return name.replace("-", "_"), int(sev)


def fashion_mnist_c_spec(arg: str, *, split: str = "test", options: dict | None = None):
    """``fashion-mnist-c:CORRUPTION:SEVERITY[?n=N]`` (the ``optimist.datasets`` entry point)."""
    if split != "test":
        raise InputError("fashion-mnist-c is a test set; it has no training split")
    name, sev = _corruption_severity(arg, "fashion-mnist-c")
    return load_corrupted(name, sev, n=_n_option(options))


def c_folder_spec(arg: str, *, split: str = "test", options: dict | None = None):
    """``c-folder:PATH:CORRUPTION:SEVERITY[?n=N]``: a CIFAR-10-C style folder (an ``optimist.datasets`` entry)."""
    path, _, rest = arg.rpartition(":")
    path, _, name = path.rpartition(":")
    if not path or not rest.isdigit():
        raise InputError("c-folder needs PATH:CORRUPTION:SEVERITY, e.g. c-folder:/data/CIFAR-10-C:fog:3")
    return load_c_folder(path, name, int(rest), n=_n_option(options))
