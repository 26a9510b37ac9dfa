"""Dataset loading: one call, images in [0, 1] of shape (C, H, W), metadata attached.

Nothing here downloads unless the caller passes ``download=True``.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from optimist.core.data.info import DatasetInfo
from optimist.core.data.tensor_dataset import ImageTensorDataset
from optimist.core.errors import DatasetNotFoundError, InputError
from optimist.core.paths import optimist_home

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
MNIST_CLASSES = tuple(str(i) for i in range(10))
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}




def available_datasets() -> tuple[str, ...]:
    return tuple(sorted(_LOADERS))


def load_dataset(
    name: str,
    split: str = "train",
    root: str | os.PathLike | None = None,
    download: bool = False,
    image_size: int | None = None,
) -> Dataset:
    """Load dataset ``name`` (see :func:`available_datasets`) as images in [0, 1] with ``.info`` metadata.

    ``root`` is searched first; ``download=True`` lets torchvision fetch mnist/cifar10 into ``root``.
    ``image_size`` resizes the images (e.g. ``digits`` at 28 for transfer learning).

    Examples
    --------
    >>> test = load_dataset("digits", "test")
    >>> len(test), tuple(test[0][0].shape), test.info.class_names[:3]
    (540, (1, 8, 8), ('0', '1', '2'))
    """
    key = name.lower().replace("_", "-")
    if key not in _LOADERS:
        raise InputError(f"unknown dataset {name!r}; known datasets: {', '.join(available_datasets())}")
    if split not in ("train", "test"):
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    root_str = None if root is None else str(Path(root).expanduser())
    return _LOADERS[key](split, root_str, download, image_size)


def _resized(ds: ImageTensorDataset, image_size: int | None) -> ImageTensorDataset:
    if image_size is None or image_size == ds.info.image_size:
        return ds
    images = F.interpolate(ds.images, size=(image_size, image_size), mode="bilinear", align_corners=False)
    info = DatasetInfo(ds.info.name, ds.info.class_names, ds.info.channels, image_size, ds.info.mean, ds.info.std)
    return ImageTensorDataset(images.clamp(0, 1), ds.targets, info)


# --- Fashion-MNIST / MNIST ------------------------------------------------------------------------


def _idx_dir_candidates(folder: str, root: str | None) -> list[Path]:
    """Directories to search, in order: root, $OPTIMIST_DATA, torchvision's layout under each, Debian."""
    bases: list[Path] = []
    if root:  # an explicit root is the only place searched: never a silent fallback to another copy
        return [Path(root), Path(root) / folder / "raw", Path(root) / folder]
    if os.environ.get("OPTIMIST_DATA"):
        bases.append(Path(os.environ["OPTIMIST_DATA"]).expanduser())
    bases.append(optimist_home() / "data")
    out: list[Path] = []
    for b in bases:
        out += [b, b / folder / "raw", b / folder]
    if folder == "FashionMNIST":
        out.append(DEBIAN_FASHION_MNIST)
    return out


def _find_idx(d: Path, stem: str) -> Path | None:
    for candidate in (d / stem, d / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped) with torchvision's parser."""
    from torchvision.datasets.mnist import read_sn3_pascalvincent_tensor

    if path.suffix != ".gz":
        return read_sn3_pascalvincent_tensor(str(path)).numpy()
    # torchvision's reader takes a plain file: decompress to a temporary file first.
    with tempfile.NamedTemporaryFile(suffix=".idx") as tmp:
        with gzip.open(path, "rb") as src:
            shutil.copyfileobj(src, tmp)
        tmp.flush()
        return read_sn3_pascalvincent_tensor(tmp.name).numpy()


@lru_cache(maxsize=8)
def _load_idx_split(folder: str, split: str, root: str | None) -> tuple[torch.Tensor, torch.Tensor, str]:
    img_stem, lbl_stem = _IDX_FILES[split]
    searched = _idx_dir_candidates(folder, root)
    for d in searched:
        img, lbl = _find_idx(d, img_stem), _find_idx(d, lbl_stem)
        if img and lbl:
            try:
                images = torch.from_numpy(_read_idx(img).copy())
                labels = torch.from_numpy(_read_idx(lbl).copy())
            except (OSError, EOFError, RuntimeError, ValueError) as e:
                raise DatasetNotFoundError(f"{img} or {lbl} is corrupt ({e}); re-install or re-download it") from e
            return images, labels, str(d)
    raise _not_found(folder, searched)


def _not_found(folder: str, searched: list[Path]) -> DatasetNotFoundError:
    places = "\n  ".join(str(p) for p in dict.fromkeys(searched))
    if folder == "FashionMNIST":
        how = (
            "Install it with:  sudo apt-get install -y dataset-fashion-mnist\n"
            "or point OPTIMIST_DATA (or root=) at a folder holding the four *-ubyte(.gz) files."
        )
    else:
        how = (
            f"Download it with:  python -c \"from optimist.core.data import load_dataset; "
            f"load_dataset('{folder.lower()}', root='DATA_DIR', download=True)\"\n"
            "or point OPTIMIST_DATA (or root=) at a folder in torchvision's layout."
        )
    return DatasetNotFoundError(f"{folder} not found. Looked in:\n  {places}\n{how}")


def _idx_loader(folder: str, class_names: tuple[str, ...], name: str, mean: float, std: float):
    def load(split: str, root: str | None, download: bool, image_size: int | None) -> ImageTensorDataset:
        if download:
            import torchvision

            cls = getattr(torchvision.datasets, folder)
            target = root or str(optimist_home() / "data")
            cls(target, train=(split == "train"), download=True)
            root = target
        images, labels, _ = _load_idx_split(folder, split, root)
        info = DatasetInfo(name, class_names, 1, 28, (mean,), (std,))
        ds = ImageTensorDataset(images.unsqueeze(1).float().div_(255.0), labels, info)
        return _resized(ds, image_size)

    return load


# --- CIFAR-10 -------------------------------------------------------------------------------------


def _load_cifar10(split: str, root: str | None, download: bool, image_size: int | None) -> ImageTensorDataset:
    import torchvision

    base = root or os.environ.get("OPTIMIST_DATA") or str(optimist_home() / "data")
    try:
        tv = torchvision.datasets.CIFAR10(base, train=(split == "train"), download=download)
    except RuntimeError as e:
        raise DatasetNotFoundError(
            f"CIFAR-10 not found under {base} ({e}).\nDownload it with: python -c \"from optimist.core.data import "
            f"load_dataset; load_dataset('cifar10', root='{base}', download=True)\", or pass root= (data spec "
            "cifar10:ROOT) a folder holding cifar-10-batches-py/."
        ) from e
    images = torch.from_numpy(tv.data).permute(0, 3, 1, 2).float().div_(255.0)
    info = DatasetInfo("cifar10", CIFAR10_CLASSES, 3, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    return _resized(ImageTensorDataset(images, torch.tensor(tv.targets), info), image_size)


# --- scikit-learn digits --------------------------------------------------------------------------


@lru_cache(maxsize=2)
def _digits_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.images.astype(np.float32) / 16.0
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    x, y = (x_tr, y_tr) if split == "train" else (x_te, y_te)
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


def _load_digits(split: str, root: str | None, download: bool, image_size: int | None) -> ImageTensorDataset:
    images, labels = _digits_split(split)
    info = DatasetInfo("digits", MNIST_CLASSES, 1, 8, (0.3,), (0.38,))
    return _resized(ImageTensorDataset(images.clone(), labels.clone(), info), image_size)


# --- ImageFolder ----------------------------------------------------------------------------------


class _FolderDataset(Dataset):
    """torchvision ImageFolder with Optimist's ``.info`` and [0, 1] tensors."""

    def __init__(self, folder, info: DatasetInfo):
        self.folder = folder
        self.info = info
        self.targets = folder.targets

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, index):
        return self.folder[index]


def _load_imagefolder(split: str, root: str | None, download: bool, image_size: int | None) -> Dataset:
    import torchvision
    from torchvision import transforms

    if not root:
        raise InputError("the 'imagefolder' dataset needs root= a folder with one sub-folder per class")
    path = Path(root)
    if (path / split).is_dir():
        path = path / split
    if not path.is_dir():
        raise DatasetNotFoundError(f"image folder {path} does not exist")
    size = image_size or 224
    tf = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor()])
    folder = torchvision.datasets.ImageFolder(str(path), transform=tf)
    channels = folder[0][0].shape[0] if len(folder) else 3
    info = DatasetInfo(f"imagefolder:{path.name}", tuple(folder.classes), channels, size, IMAGENET_MEAN, IMAGENET_STD)
    return _FolderDataset(folder, info)


_LOADERS = {
    "fashion-mnist": _idx_loader("FashionMNIST", FASHION_MNIST_CLASSES, "fashion-mnist", 0.2860, 0.3530),
    "mnist": _idx_loader("MNIST", MNIST_CLASSES, "mnist", 0.1307, 0.3081),
    "cifar10": _load_cifar10,
    "digits": _load_digits,
    "imagefolder": _load_imagefolder,
}
