"""Corruptions: range, shape, dtype, determinism, identity at severity 0, monotone in severity, band tags."""

from __future__ import annotations

import pytest
import torch

from optimist.shifts.corruptions import corrupt, corruption_names
from optimist.shifts.fourier import measure_bands

NAMES = corruption_names()


@pytest.fixture(scope="module")
def images(fmnist_test):
    return fmnist_test.images[:48]


def test_the_21_corruptions():
    assert len(corruption_names("mnist-c")) == 15 and len(corruption_names("imagenet-c")) == 6
    assert len(set(NAMES)) == 21


@pytest.mark.parametrize("name", NAMES)
def test_corruption_contract(images, name):
    dists = []
    for s in range(0, 6):
        y = corrupt(images, name, s, seed=3)
        assert y.shape == images.shape and y.dtype == images.dtype
        assert float(y.min()) >= 0 and float(y.max()) <= 1
        dists.append(float((y - images).flatten(1).norm(dim=1).mean()))
    assert dists[0] == 0  # severity 0 is the identity
    assert all(b > a for a, b in zip(dists, dists[1:])), f"{name}: mean distance not increasing: {dists}"
    again = corrupt(images, name, 3, seed=3)
    assert torch.equal(again, corrupt(images, name, 3, seed=3))


@pytest.mark.parametrize("name", ["gaussian_noise", "rotate", "fog", "glass_blur", "zigzag"])
def test_seed_matters_for_random_corruptions(images, name):
    assert not torch.equal(corrupt(images, name, 3, seed=0), corrupt(images, name, 3, seed=1))


def test_colour_and_other_sizes():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 32, 32, generator=g)
    for name in NAMES:
        y = corrupt(x, name, 2)
        assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1, name


def test_bad_input_is_a_clear_error(images):
    with pytest.raises(ValueError, match="valid names: shot_noise"):
        corrupt(images, "snow", 1)
    with pytest.raises(ValueError, match="severity must be an integer in 1..5"):
        corrupt(images, "fog", 6)
    with pytest.raises(ValueError, match="shape"):
        corrupt(images[0], "fog", 1)


def test_band_tags_are_measured(images):
    bands = measure_bands(images[:32], names=["gaussian_noise", "impulse_noise", "contrast",
                                              "fog"]).set_index("corruption")
    assert bands.loc["gaussian_noise", "band"] == "high"
    assert bands.loc["impulse_noise", "band"] == "high"
    assert bands.loc["contrast", "band"] == "low"
    assert bands.loc["fog", "band"] == "low"
    assert bands.loc["fog", "mean_frequency"] < bands.loc["gaussian_noise", "mean_frequency"]
