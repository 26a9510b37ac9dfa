"""Data specs: one text form for every dataset a command or an application can take.

=========================  ==========================================================================
``fashion-mnist[:ROOT]``   Fashion-MNIST (Debian package or ROOT); ``mnist:ROOT``, ``cifar10:ROOT`` alike
``digits``                 scikit-learn's 8x8 digits
``imagefolder:PATH``       one sub-folder per class (``PATH/test`` is used when it exists), classes interleaved
``tensors:FILE``           ``.pt`` (dict with ``images``/``labels``, or a pair) or ``.npz``: images in [0, 1]
=========================  ==========================================================================

Options follow ``?``: ``size=N`` resizes (bilinear), ``mode=grey`` / ``mode=rgb`` converts channels, ``n=N``
keeps the first N, ``split=train`` / ``split=test`` picks the split (default: the caller's, usually test).
An image folder's images come with the classes interleaved (each class's first image, then each class's second,
...), not class by class as the folders list them, so that the first N images (``n=N``, or an application's
``n`` setting) hold every class.
Installed packages add kinds through the ``optimist.datasets`` entry-point group (a function
``load(arg, *, split, options) -> ImageTensorDataset``). An explicit root or path that holds no data is an
error naming it; nothing falls back to another copy.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from optimist.core.data.datasets import load_dataset
from optimist.core.data.info import DatasetInfo
from optimist.core.data.tensor_dataset import ImageTensorDataset, from_tensors
from optimist.core.errors import DataSpecError

GROUP = "optimist.datasets"
BUILTIN = ("fashion-mnist", "mnist", "cifar10", "digits", "imagefolder", "tensors")
_OPTIONS = ("size", "mode", "n", "split")


def _plugins() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def kinds() -> tuple[str, ...]:
    """Every data spec kind: the built-in ones and those installed packages add."""
    return BUILTIN + tuple(sorted(k for k in _plugins() if k not in BUILTIN))


def _usage() -> str:
    return (f"data spec kinds: {', '.join(kinds())}; e.g. fashion-mnist, cifar10:/data/cifar, "
            "imagefolder:/photos?size=32&mode=rgb, tensors:batch.pt")


def _options(query: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in filter(None, query.split("&")):
        key, sep, value = item.partition("=")
        if not sep or key not in _OPTIONS:
            raise DataSpecError(f"unknown data spec option {item!r}; valid options: size=N, mode=grey|rgb, n=N, "
                                "split=train|test")
        if key == "split":
            if value not in ("train", "test"):
                raise DataSpecError(f"split must be train or test, got {value!r}")
            out[key] = value
        elif key == "mode":
            if value not in ("grey", "gray", "rgb"):
                raise DataSpecError(f"mode must be grey or rgb, got {value!r}")
            out[key] = "grey" if value == "gray" else value
        else:
            try:
                out[key] = int(value)
            except ValueError as e:
                raise DataSpecError(f"data spec option {key} must be an integer, got {value!r}") from e
            if out[key] < 1:
                raise DataSpecError(f"data spec option {key} must be >= 1, got {value}")
    return out


def _load_tensors(arg: str) -> ImageTensorDataset:
    path = Path(arg).expanduser()
    if not path.is_file():
        raise DataSpecError(f"tensors: no file at {path}")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            xi = next((k for k in ("images", "x", "x_test") if k in keys), None)
            yi = next((k for k in ("labels", "y", "targets", "y_test") if k in keys), None)
            if xi is None or yi is None:
                raise DataSpecError(f"{path} needs arrays 'images' and 'labels' (found {sorted(keys)})")
            return from_tensors(torch.from_numpy(z[xi]), torch.from_numpy(z[yi]), name=path.stem, source=str(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file
        raise DataSpecError(f"{path} could not be read as tensors ({type(e).__name__}); save a dict "
                            "{'images': x, 'labels': y} with torch.save, or an .npz") from e
    if isinstance(obj, dict):
        xi = next((k for k in ("images", "x", "x_test") if k in obj), None)
        yi = next((k for k in ("labels", "y", "targets", "y_test") if k in obj), None)
        if xi is None or yi is None:
            raise DataSpecError(f"{path} needs entries 'images' and 'labels' (found {sorted(obj)})")
        names = obj.get("class_names")
        return from_tensors(obj[xi], obj[yi], name=path.stem, source=str(path),
                            class_names=tuple(names) if names else None)
    if isinstance(obj, (tuple, list)) and len(obj) == 2:
        return from_tensors(obj[0], obj[1], name=path.stem, source=str(path))
    raise DataSpecError(f"{path} holds a {type(obj).__name__}; expected {{'images': x, 'labels': y}} or (x, y)")


def _classes_interleaved(targets: list[int]) -> list[int]:
    """Indices in round-robin class order: each class's first image, then each class's second, and so on."""
    per_class: dict[int, list[int]] = {}
    for i, t in enumerate(targets):
        per_class.setdefault(int(t), []).append(i)
    longest = max((len(v) for v in per_class.values()), default=0)
    return [v[j] for j in range(longest) for _, v in sorted(per_class.items()) if j < len(v)]


def _load_imagefolder(arg: str, split: str, opts: dict) -> ImageTensorDataset:
    import torchvision
    from torchvision import transforms

    path = Path(arg).expanduser()
    if (path / split).is_dir():
        path = path / split
    if not path.is_dir():
        raise DataSpecError(f"imagefolder: {path} is not a folder (it needs one sub-folder per class)")
    size = opts.get("size", 224)
    tf = [transforms.Resize(size), transforms.CenterCrop(size)]
    if opts.get("mode") == "grey":
        tf.append(transforms.Grayscale(1))
    elif opts.get("mode") == "rgb":
        tf.append(transforms.Lambda(lambda im: im.convert("RGB")))
    try:
        folder = torchvision.datasets.ImageFolder(str(path), transform=transforms.Compose(tf + [transforms.ToTensor()]))
    except (FileNotFoundError, RuntimeError) as e:
        raise DataSpecError(f"imagefolder: {path} holds no images in class sub-folders ({e})") from e
    order = _classes_interleaved(folder.targets)  # the folder lists them class by class
    items = [folder[i] for i in order[:opts.get("n", len(order))]]
    shapes = {tuple(x.shape) for x, _ in items}
    if len(shapes) > 1:
        raise DataSpecError(f"imagefolder: {path} mixes grey and colour images ({sorted(shapes)}); add ?mode=rgb "
                            "or ?mode=grey")
    images = torch.stack([x for x, _ in items])
    labels = torch.tensor([y for _, y in items])
    ds = from_tensors(images, labels, name=f"imagefolder:{path.name}", class_names=tuple(folder.classes),
                      source=str(path))
    c = images.shape[1]
    mean, std = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)) if c == 3 else ((0.5,), (0.5,))
    return ImageTensorDataset(ds.images, ds.targets, DatasetInfo(ds.info.name, ds.info.class_names, c, size,
                                                                 mean, std))


def _apply(ds: ImageTensorDataset, opts: dict) -> ImageTensorDataset:
    images, info = ds.images, ds.info
    if "n" in opts:
        images, targets = images[: opts["n"]], ds.targets[: opts["n"]]
    else:
        targets = ds.targets
    if opts.get("mode") == "grey" and images.shape[1] == 3:
        images = (images * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        info = DatasetInfo(info.name, info.class_names, 1, info.image_size, (0.5,), (0.5,))
    elif opts.get("mode") == "rgb" and images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
        info = DatasetInfo(info.name, info.class_names, 3, info.image_size, info.mean * 3, info.std * 3)
    if "size" in opts and opts["size"] != images.shape[-1]:
        images = F.interpolate(images, size=(opts["size"], opts["size"]), mode="bilinear",
                               align_corners=False).clamp(0, 1)
        info = DatasetInfo(info.name, info.class_names, info.channels, opts["size"], info.mean, info.std)
    if images is ds.images and targets is ds.targets:
        return ds
    return ImageTensorDataset(images, targets, info)


def resolve_data(data, *, split: str = "test") -> ImageTensorDataset:
    """The dataset a spec names (see the module docstring), an :class:`ImageTensorDataset`, or an (x, y) pair."""
    if isinstance(data, ImageTensorDataset):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data, str):
        return from_tensors(data[0], data[1])
    if isinstance(data, os.PathLike):
        data = f"tensors:{data}"
    if not isinstance(data, str) or not data.strip():
        raise DataSpecError(f"data must be a data spec, an ImageTensorDataset or an (images, labels) pair; got "
                            f"{type(data).__name__}. {_usage()}")
    text, _, query = data.strip().partition("?")
    opts = _options(query)
    split = opts.pop("split", split)
    kind, _, arg = text.partition(":")
    kind = kind.lower().replace("_", "-")
    if kind in ("fashion-mnist", "mnist", "cifar10", "digits"):
        if kind == "digits" and arg:
            raise DataSpecError("digits comes with scikit-learn and takes no root")
        if arg and not Path(arg).expanduser().is_dir():
            raise DataSpecError(f"{kind}: the root {arg} is not a folder")
        ds = load_dataset(kind, split, root=arg or None)
    elif kind == "imagefolder":
        if not arg:
            raise DataSpecError("imagefolder needs a path: imagefolder:/path/to/folder")
        return _load_imagefolder(arg, split, opts)
    elif kind == "tensors":
        if not arg:
            raise DataSpecError("tensors needs a file: tensors:/path/to/batch.pt")
        ds = _load_tensors(arg)
    elif kind in _plugins():
        ds = _plugins()[kind].load()(arg, split=split, options=opts)
        return ds
    else:
        raise DataSpecError(f"unknown data spec {data!r}; {_usage()}")
    return _apply(ds, opts)
