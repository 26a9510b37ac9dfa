"""Fourier basis images and Yin et al.'s heat map."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from optimist.shifts.corruptions import corrupt
from optimist.shifts.fourier import (
    band_energy,
    band_of,
    band_powers,
    band_shares,
    centred_frequencies,
    fourier_basis,
    fourier_heatmap,
    heatmap_correct,
    heatmap_from_correct,
    radial_frequency,
)


@pytest.mark.parametrize("u,v", [(0, 0), (1, 0), (0, 3), (-5, 7), (14, 14), (-13, -2)])
def test_basis_unit_norm_and_frequency(u, v):
    b = fourier_basis(28, 28, u, v, dtype=torch.float64)
    assert abs(float(b.norm()) - 1) < 1e-12
    spec = np.abs(np.fft.fft2(b.numpy())) ** 2
    support = {(u % 28, v % 28), ((-u) % 28, (-v) % 28)}
    on = sum(spec[i, j] for i, j in support)
    assert on / spec.sum() > 1 - 1e-12
    assert spec.sum() > 0


class LowPassLinear(nn.Module):
    """A linear classifier that sees only frequencies with |f| < cutoff: blind to the rest of the spectrum."""

    def __init__(self, cutoff=0.15, classes=10, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("mask", torch.from_numpy((radial_frequency(28, 28) < cutoff).astype(np.float32)))
        self.weight = nn.Parameter(torch.randn(classes, 784, generator=g) * 0.05)

    def forward(self, x):
        low = torch.fft.ifft2(torch.fft.fft2(x - 0.5) * self.mask).real
        return low.flatten(1) @ self.weight.T


def test_heatmap_flat_where_the_model_is_blind():
    g = torch.Generator().manual_seed(1)
    model = LowPassLinear()
    x = 0.45 + 0.1 * torch.rand(64, 1, 28, 28, generator=g)  # near one another (small margins), never clipped
    with torch.no_grad():
        y = model(x).argmax(1)
    y[:16] = (y[:16] + 1) % 10  # some clean errors, so "flat" is a non-trivial level
    hm = fourier_heatmap(model, x, y, eps=2.0, seed=0)
    err = hm["error"]
    us, vs = centred_frequencies(28, 28)
    f = np.sqrt((us[:, None] / 28) ** 2 + (vs[None, :] / 28) ** 2)
    blind = f >= 0.15 + 1e-9
    assert not np.isnan(err).any()
    assert np.allclose(err[blind], hm["clean_error"])
    assert err[~blind].max() > hm["clean_error"] + 0.05  # it does see low frequencies


def test_heatmap_symmetric_and_strided():
    g = torch.Generator().manual_seed(2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    x = torch.rand(20, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (20,), generator=g)
    hm = fourier_heatmap(model, x, y, eps=4.0, stride=1)
    err = hm["error"]
    us, vs = centred_frequencies(28, 28)
    for i, u in enumerate(us):
        for j, v in enumerate(vs):
            i2, j2 = np.where(us == ((-u + 14) % 28) - 14)[0][0], np.where(vs == ((-v + 14) % 28) - 14)[0][0]
            assert err[i, j] == err[i2, j2]
    coarse = fourier_heatmap(model, x, y, eps=4.0, stride=4)["error"]
    done = ~np.isnan(coarse)
    assert done.sum() == 7 * 7 and np.array_equal(coarse[done], err[done])
    with pytest.raises(ValueError, match="eps must be positive"):
        fourier_heatmap(model, x, y, eps=0)


def test_band_of():
    assert list(band_of(np.array([0.0, 0.09, 0.1, 0.2, 0.25, 0.7]))) == [0, 0, 1, 1, 2, 2]


def test_heatmap_in_small_batches_is_the_same_map():
    """At most ``batch_size`` images, perturbed copies included, per forward pass, and the same map whatever it is;
    rows of the map's images in chunks, gathered, give the map of all of them."""
    g = torch.Generator().manual_seed(3)
    model = LowPassLinear()
    x = 0.45 + 0.1 * torch.rand(10, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (10,), generator=g)
    sizes: list[int] = []
    handle = model.register_forward_pre_hook(lambda _m, args: sizes.append(len(args[0])))
    try:
        small = fourier_heatmap(model, x, y, eps=2.0, stride=4, batch_size=3)
    finally:
        handle.remove()
    assert max(sizes) <= 3
    large = fourier_heatmap(model, x, y, eps=2.0, stride=4, batch_size=4096)
    assert np.array_equal(small["error"], large["error"], equal_nan=True)
    assert np.array_equal(small["clean_correct"], large["clean_correct"])
    # two chunks of images with signs of their own, rows gathered: each chunk's rows are its own map's rows
    parts = [heatmap_correct(model, x[i:i + 5], y[i:i + 5], 2.0, stride=4, seed=i) for i in (0, 5)]
    clean, correct = (np.concatenate(p) for p in zip(*parts))
    gathered = heatmap_from_correct(clean, correct, 28, 28, eps=2.0, stride=4)
    first = heatmap_from_correct(*parts[0], 28, 28, eps=2.0, stride=4)
    assert gathered["correct"][(4, 8)].shape == (10,)
    assert np.array_equal(gathered["correct"][(4, 8)][:5], first["correct"][(4, 8)])


def test_band_powers_of_chunks_add_up_to_the_band_energy():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(12, 3, 16, 16, generator=g)
    y = corrupt(x, "fog", 3)
    whole = band_energy(x, y)
    chunked = band_shares(np.concatenate([band_powers(x[i:i + 5], y[i:i + 5]) for i in range(0, 12, 5)]))
    assert set(whole) == set(chunked)
    assert all(abs(whole[k] - chunked[k]) < 1e-12 for k in whole)
    assert np.isnan(band_shares(band_powers(x, x))["low"])  # no change, no power to share


def test_heat_maps_keep_a_fixed_number_of_frequencies_on_large_images():
    """Every frequency up to 32x32; at most 32 per direction above, so the cost does not grow with the pixels."""
    from optimist.shifts.compare import ShiftsSettings, heatmap_stride
    from optimist.shifts.fourier import heatmap_frequencies

    assert [heatmap_stride(ShiftsSettings(), side) for side in (28, 32, 33, 64, 224)] == [1, 1, 2, 2, 7]
    assert heatmap_stride(ShiftsSettings.from_mapping({"heatmap_stride": 3}), 224) == 3
    assert len(heatmap_frequencies(224, 224, stride=7)) <= len(heatmap_frequencies(32, 32, stride=1))
