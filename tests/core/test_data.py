import pytest
import torch

from optimist.core.data import DatasetNotFoundError, k_per_class, load_dataset, make_loader, subset
from optimist.core.data.datasets import FASHION_MNIST_CLASSES


def test_fashion_mnist_real_files(fmnist_train, fmnist_test):
    assert len(fmnist_train) == 60000 and len(fmnist_test) == 10000
    x, y = fmnist_train[0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    assert fmnist_train.images.min() == 0.0 and fmnist_train.images.max() == 1.0
    assert fmnist_train.info.class_names == FASHION_MNIST_CLASSES
    assert fmnist_train.info.num_classes == 10 and fmnist_train.info.shape == (1, 28, 28)
    # Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
    assert torch.bincount(fmnist_train.targets).tolist() == [6000] * 10
    assert torch.bincount(fmnist_test.targets).tolist() == [1000] * 10
    # The first training label of Fashion-MNIST is 9 (ankle boot).
    assert y == 9


def test_digits_split_and_resize():
    tr = load_dataset("digits", "train")
    te = load_dataset("digits", "test")
    assert len(tr) + len(te) == 1797
    assert tr.images.shape[1:] == (1, 8, 8)
    assert 0.0 <= tr.images.min() and tr.images.max() <= 1.0
    assert set(tr.targets.tolist()) == set(range(10))
    big = load_dataset("digits", "train", image_size=28)
    assert big.images.shape[1:] == (1, 28, 28) and big.info.image_size == 28
    assert big.images.min() >= 0 and big.images.max() <= 1
    # same split every time
    assert torch.equal(load_dataset("digits", "train").targets, tr.targets)


def test_unknown_dataset_lists_known():
    with pytest.raises(ValueError, match="known datasets: .*fashion-mnist"):
        load_dataset("imagenet-21k")
    with pytest.raises(ValueError, match="split"):
        load_dataset("digits", "validation")


def test_missing_dataset_says_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTIMIST_DATA", str(tmp_path / "nothing"))
    with pytest.raises(DatasetNotFoundError) as e:
        load_dataset("mnist", root=tmp_path / "empty")
    msg = str(e.value)
    # an explicit root is the only place searched: no silent fallback to $OPTIMIST_DATA or another copy
    assert str(tmp_path / "empty") in msg and "nothing" not in msg and "download=True" in msg
    with pytest.raises(DatasetNotFoundError) as e:
        load_dataset("mnist")
    assert "nothing" in str(e.value)
    with pytest.raises(DatasetNotFoundError, match="CIFAR-10 not found"):
        load_dataset("cifar10", root=tmp_path)


def test_missing_fashion_mnist_names_debian_package(tmp_path, monkeypatch):
    import optimist.core.data.datasets as d

    monkeypatch.setattr(d, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    d._load_idx_split.cache_clear()
    try:
        with pytest.raises(DatasetNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
            load_dataset("fashion-mnist", root=tmp_path)
    finally:
        d._load_idx_split.cache_clear()


def test_idx_from_root_in_torchvision_layout(tmp_path, fmnist_test):
    """A root in torchvision's layout (uncompressed raw files) is read before the Debian copy."""
    import gzip
    import shutil

    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(f"/usr/share/datasets/fashion-mnist/{stem}.gz") as src, open(raw / stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    ds = load_dataset("fashion-mnist", "test", root=tmp_path)
    assert torch.equal(ds.targets, fmnist_test.targets)


def test_imagefolder(tmp_path):
    from PIL import Image

    for c in ("cat", "dog"):
        (tmp_path / c).mkdir()
        for i in range(3):
            Image.new("RGB", (40, 30), color=(i * 80, 10, 200)).save(tmp_path / c / f"{i}.png")
    ds = load_dataset("imagefolder", root=tmp_path, image_size=16)
    assert len(ds) == 6 and ds.info.class_names == ("cat", "dog")
    x, y = ds[0]
    assert x.shape == (3, 16, 16) and 0 <= x.min() and x.max() <= 1
    with pytest.raises(ValueError, match="needs root"):
        load_dataset("imagefolder")


def test_subset_helpers(fmnist_test):
    s = subset(fmnist_test, 100, seed=3)
    assert len(s) == 100 and torch.equal(s.targets, subset(fmnist_test, 100, seed=3).targets)
    assert not torch.equal(s.targets, subset(fmnist_test, 100, seed=4).targets)
    five = subset(fmnist_test, classes=[5, 6, 7, 8, 9])
    assert len(five) == 5000 and five.info.num_classes == 5
    assert five.info.class_names == FASHION_MNIST_CLASSES[5:]
    assert set(five.targets.tolist()) == {0, 1, 2, 3, 4}
    k = k_per_class(five, 7, seed=1)
    assert torch.bincount(k.targets).tolist() == [7] * 5
    assert torch.equal(k.images, k_per_class(five, 7, seed=1).images)
    with pytest.raises(ValueError, match="fewer than k"):
        k_per_class(subset(fmnist_test, 20), 5)
    with pytest.raises(ValueError, match="distinct labels"):
        subset(fmnist_test, classes=[1, 1])


def test_loader_batches(fmnist_test):
    batches = list(make_loader(subset(fmnist_test, 300), 128))
    assert [len(y) for _, y in batches] == [128, 128, 44]
