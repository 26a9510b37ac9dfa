import numpy as np
import pytest
import torch

from optimist.generation.metrics import (
    PCAProjection,
    class_diversity,
    frechet_distance,
    gaussian_window,
    mse,
    pairwise_diversity,
    ssim,
)


def test_ssim_identical_images_is_one(fmnist_test):
    x = fmnist_test.images[:8]
    assert torch.allclose(ssim(x, x), torch.ones(8), atol=1e-6)


def test_ssim_falls_with_noise_and_is_symmetric(fmnist_test):
    x = fmnist_test.images[:8]
    g = torch.Generator().manual_seed(0)
    light = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    heavy = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    s_light, s_heavy = ssim(x, light), ssim(x, heavy)
    assert (s_light < 1).all() and (s_heavy < s_light).all()
    assert torch.allclose(ssim(light, x), s_light, atol=1e-6)


def test_ssim_of_constant_images_matches_the_formula():
    """Flat images: SSIM reduces to the luminance term (2ab + c1) / (a^2 + b^2 + c1)."""
    a, b = torch.full((1, 1, 16, 16), 0.2), torch.full((1, 1, 16, 16), 0.6)
    c1 = 0.01 ** 2
    expected = (2 * 0.2 * 0.6 + c1) / (0.2 ** 2 + 0.6 ** 2 + c1)
    assert ssim(a, b).item() == pytest.approx(expected, rel=1e-5)


def test_ssim_and_mse_reject_bad_shapes():
    with pytest.raises(ValueError, match="same shape"):
        ssim(torch.zeros(1, 1, 28, 28), torch.zeros(1, 1, 27, 27))
    with pytest.raises(ValueError, match="window"):
        ssim(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="same shape"):
        mse(torch.zeros(2, 4), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="odd"):
        gaussian_window(10)
    assert gaussian_window().sum().item() == pytest.approx(1.0)


def test_frechet_of_identical_sets_is_zero_and_of_shifted_sets_is_the_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5000, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, -2.0, 0.0, 0.5])
    assert frechet_distance(a, a + shift) == pytest.approx((shift ** 2).sum(), rel=1e-6)


def test_frechet_matches_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(1)
    s1, s2 = np.array([1.0, 2.0, 0.5]), np.array([0.5, 1.0, 2.0])
    a = rng.normal(size=(200000, 3)) * s1
    b = rng.normal(size=(200000, 3)) * s2
    expected = ((s1 - s2) ** 2).sum()  # Tr(S1 + S2 - 2 sqrt(S1 S2)) for diagonal covariances
    assert frechet_distance(a, b) == pytest.approx(expected, abs=0.03)


def test_frechet_with_fewer_samples_than_dimensions_is_finite():
    rng = np.random.default_rng(2)
    fd = frechet_distance(rng.normal(size=(5, 16)), rng.normal(size=(40, 16)))
    assert np.isfinite(fd) and fd > 0


def test_frechet_rejects_bad_input():
    with pytest.raises(ValueError, match="2 samples"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))


def test_pca_projection_keeps_the_main_directions():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1000, 10)) * np.array([10, 5] + [0.1] * 8)
    p = PCAProjection.fit(x, k=2)
    assert p.explained > 0.99
    assert p(x).shape == (1000, 2)
    with pytest.raises(ValueError, match="k must be"):
        PCAProjection.fit(x, k=11)
    with pytest.raises(ValueError, match="shape"):
        p(np.zeros((3, 9)))


def test_diversity():
    f = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    assert pairwise_diversity(f[:2]) == pytest.approx(5.0)
    assert pairwise_diversity(torch.zeros(4, 3)) == 0.0
    assert np.isnan(pairwise_diversity(f[:1]))
    labels = torch.tensor([0, 0, 1])
    assert class_diversity(f, labels) == pytest.approx(5.0)  # class 1 has a single sample: skipped
