import pytest
import torch

from optimist.generation import ClassGaussian
from optimist.generation.seeds import class_labels


def _toy_data(n=4000, seed=0):
    """Two classes of 1x3x3 'images' drawn from known Gaussians."""
    g = torch.Generator().manual_seed(seed)
    d = 9
    a = torch.randn(d, d, generator=g) * 0.05
    cov0 = a @ a.T + 0.001 * torch.eye(d)
    mu0 = torch.full((d,), 0.3)
    mu1 = torch.linspace(0.2, 0.8, d)
    cov1 = 0.002 * torch.eye(d)
    x0 = torch.distributions.MultivariateNormal(mu0, cov0).sample((n,))
    x1 = torch.distributions.MultivariateNormal(mu1, cov1).sample((n,))
    images = torch.cat([x0, x1]).view(-1, 1, 3, 3)
    labels = torch.cat([torch.zeros(n), torch.ones(n)]).long()
    return images, labels


def test_fit_matches_empirical_class_statistics():
    images, labels = _toy_data()
    s = ClassGaussian.fit(images, labels, ridge=0.0)
    for k in (0, 1):
        xk = images[labels == k].flatten(1).double()
        assert torch.allclose(s.mean(k).double(), xk.mean(0), atol=1e-5)
        assert torch.allclose(s.covariance(k).double(), torch.cov(xk.T), atol=1e-5)


def test_samples_match_fitted_mean_and_covariance():
    images, labels = _toy_data()
    s = ClassGaussian.fit(images, labels)
    y = torch.tensor([0, 1]).repeat_interleave(20000)
    raw = s.sample_raw(y, torch.Generator().manual_seed(1))
    for k in (0, 1):
        draws = raw[y == k].double()
        assert (draws.mean(0) - s.mean(k).double()).abs().max() < 0.003
        cov = s.covariance(k).double()
        assert (torch.cov(draws.T) - cov).abs().max() < 0.1 * cov.abs().max()


def test_sampling_is_seeded_and_in_range(fmnist_train):
    s = ClassGaussian.fit(fmnist_train.images[:6000], fmnist_train.targets[:6000], resolution=4)
    y = class_labels(range(10), 3)
    a = s.sample(y, torch.Generator().manual_seed(0))
    b = s.sample(y, torch.Generator().manual_seed(0))
    assert a.shape == (30, 1, 28, 28) and torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1


def test_reduced_resolution_mean_is_the_downsampled_class_mean(fmnist_train):
    x, y = fmnist_train.images[:6000], fmnist_train.targets[:6000]
    s = ClassGaussian.fit(x, y, resolution=7)
    assert s.resolution == 7 and s.dim == 49
    expected = torch.nn.functional.avg_pool2d(x[y == 3], 4).mean(0).flatten()
    assert torch.allclose(s.mean(3), expected, atol=1e-5)


def test_default_resolution_is_full_for_small_images(fmnist_train):
    s = ClassGaussian.fit(fmnist_train.images[:2000], fmnist_train.targets[:2000], classes=[0])
    assert s.resolution == 28 and s.dim == 784 and s.classes == (0,)


def test_bad_input_raises():
    images, labels = _toy_data(10)
    with pytest.raises(ValueError, match="shape"):
        ClassGaussian.fit(images.view(-1, 9), labels)
    with pytest.raises(ValueError, match="one label per image"):
        ClassGaussian.fit(images, labels[:-1])
    with pytest.raises(ValueError, match="resolution"):
        ClassGaussian.fit(images, labels, resolution=5)
    s = ClassGaussian.fit(images, labels)
    with pytest.raises(ValueError, match="not fitted"):
        s.sample(torch.tensor([7]))
    with pytest.raises(ValueError, match="per_class"):
        class_labels([0, 1], 0)


def test_class_and_unit_seeds_follow_n_unless_set():
    """At n=40 on ten classes the defaults are the demo's 8 and 8; a small n makes a small job (issue 28)."""
    from optimist.generation import GenerationSettings
    from optimist.generation._application import seed_counts

    assert seed_counts(GenerationSettings(), 10) == (8, 8)
    assert seed_counts(GenerationSettings.from_mapping({"n": 4}), 10) == (2, 4)
    assert seed_counts(GenerationSettings.from_mapping({"n": 4}), 1000) == (2, 4)
    assert seed_counts(GenerationSettings.from_mapping({"n": 400}), 10) == (8, 8)
    assert seed_counts(GenerationSettings.from_mapping({"n": 4, "per_class": 5, "n_units": 1}), 10) == (5, 1)
