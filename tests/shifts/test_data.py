"""Corrupted test sets on disk: the CIFAR-10-C layout, Fashion-MNIST-C in the cache, the data specs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optimist.shifts.corruptions import corrupt
from optimist.shifts.data import (
    c_folder_corruptions,
    c_folder_spec,
    fashion_mnist_c_folder,
    fashion_mnist_c_spec,
    load_c_folder,
    load_corrupted,
    write_c_folder,
)


def test_published_layout_folder(tmp_path):
    """A tiny fake CIFAR-10-C: 5 x 4 colour images per corruption, 20 labels (as CIFAR-10-C ships them)."""
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, size=(20, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "fog.npy", arr)
    np.save(tmp_path / "labels.npy", np.tile(np.arange(4), 5))
    assert c_folder_corruptions(tmp_path) == ("fog",)
    ds = load_c_folder(tmp_path, "fog", 3)
    assert ds.images.shape == (4, 3, 32, 32) and ds.images.dtype == torch.float32
    assert torch.equal(ds.images[1], torch.from_numpy(arr[9]).permute(2, 0, 1).float() / 255)
    assert ds.targets.tolist() == [0, 1, 2, 3]
    assert len(c_folder_spec(f"{tmp_path}:fog:5", options={"n": 2})) == 2
    with pytest.raises(ValueError, match="holds no 'snow'; it holds: fog"):
        load_c_folder(tmp_path, "snow", 1)
    with pytest.raises(ValueError, match="severity must be an integer in 1..5"):
        load_c_folder(tmp_path, "fog", 7)


def test_write_then_read_round_trip(tmp_path, fmnist_test):
    x, y = fmnist_test.images[:6], fmnist_test.targets[:6]
    write_c_folder(tmp_path, x, y, ["gaussian_noise", "stripe"], seed=4)
    assert set(c_folder_corruptions(tmp_path)) == {"gaussian_noise", "stripe"}
    assert np.load(tmp_path / "stripe.npy").shape == (30, 28, 28)
    ds = load_c_folder(tmp_path, "gaussian_noise", 2)
    expected = corrupt(x, "gaussian_noise", 2, seed=4)
    assert (ds.images - expected).abs().max() <= 0.5 / 255 + 1e-6  # stored as uint8
    assert torch.equal(ds.targets, y)


def test_fashion_mnist_c_cached_and_as_a_spec():
    ds = load_corrupted("contrast", 2, n=16)
    assert ds.images.shape == (16, 1, 28, 28) and ds.info.name == "fashion-mnist-c:contrast:2"
    assert ds.info.class_names[0] == "T-shirt/top"
    arr = np.load(fashion_mnist_c_folder(0) / "contrast.npy", mmap_mode="r")
    assert arr.shape == (50000, 28, 28)  # all 10,000 test images at all five severities
    again = fashion_mnist_c_spec("contrast:2", options={"n": 16})
    assert torch.equal(again.images, ds.images)
    with pytest.raises(ValueError, match="valid names"):
        load_corrupted("snow", 1)
    with pytest.raises(ValueError, match="CORRUPTION:SEVERITY"):
        fashion_mnist_c_spec("contrast")
