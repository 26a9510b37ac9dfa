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
    """At n=40 on ten classes the defaults are the demo's 8 seeds for every class and 8 units; a small n makes a
    small job, on ten classes or a thousand (issue 28)."""
    from optimist.generation import GenerationSettings
    from optimist.generation._application import seed_counts

    assert seed_counts(GenerationSettings(), 10) == (8, 10, 8)
    assert seed_counts(GenerationSettings.from_mapping({"n": 4}), 10) == (2, 4, 4)
    assert seed_counts(GenerationSettings.from_mapping({"n": 4}), 1000) == (2, 4, 4)
    assert seed_counts(GenerationSettings.from_mapping({"n": 64}), 1000) == (2, 64, 8)
    assert seed_counts(GenerationSettings.from_mapping({"n": 400}), 10) == (8, 10, 8)
    assert seed_counts(GenerationSettings.from_mapping({"n": 4, "per_class": 5, "n_units": 1}), 10) == (5, 2, 1)
    assert seed_counts(GenerationSettings.from_mapping({"n": 4, "classes": 7}), 10) == (2, 7, 4)


def test_large_images_halve_steps_and_scale_radii():
    """Above 32x32 the steps halve (step sizes double: the same radius); radii and step sizes follow the square
    root of the values per image, unchanged at 28x28, and a budget the user sets is taken as given."""
    import math

    from optimist.generation import GenerationSettings
    from optimist.generation._application import parse_budgets, steps_factor
    from optimist.generation.budgets import DEFAULTS, for_images
    from optimist.generation.showcase import ShowcaseConfig

    assert steps_factor(GenerationSettings(), 28) == 1.0 and steps_factor(GenerationSettings(), 32) == 1.0
    assert steps_factor(GenerationSettings(), 64) == 0.5
    assert steps_factor(GenerationSettings.from_mapping({"steps_factor": 2}), 224) == 2.0
    assert for_images(28 * 28) == DEFAULTS
    big = for_images(3 * 224 * 224)
    for task, b in DEFAULTS.items():
        assert big[task].steps == b.steps
        assert big[task].step_size == pytest.approx(b.step_size * math.sqrt(3 * 224 * 224 / 784))
        assert big[task].eps == b.eps * math.sqrt(3 * 224 * 224 / 784) or math.isinf(b.eps)
    halved = ShowcaseConfig(budgets=big).scaled_steps(0.5).budgets["class-generation"]
    assert halved.steps == 50 and halved.step_size == pytest.approx(2 * big["class-generation"].step_size)
    assert halved.steps * halved.step_size == pytest.approx(100 * big["class-generation"].step_size)
    assert parse_budgets(("class-generation:eps=8",), big)["class-generation"].eps == 8.0


@pytest.mark.filterwarnings("ignore:the real reference is too small")  # 20 real images: this test's judges
def test_class_generation_draws_a_seeded_subset_of_classes():
    """``classes`` below the class count: seeds for that many classes, drawn with the seed, every class alike."""
    from optimist.core.data import DatasetInfo, ImageTensorDataset
    from optimist.core.models import build_model
    from optimist.generation.showcase import ShowcaseConfig, run_showcase

    g = torch.Generator().manual_seed(0)
    info = DatasetInfo("toy", tuple(f"c{i}" for i in range(6)), 1, 8)
    train = ImageTensorDataset(torch.rand(60, 1, 8, 8, generator=g), torch.arange(60) % 6, info)
    test = ImageTensorDataset(torch.rand(40, 1, 8, 8, generator=g), torch.arange(40) % 6, info)
    torch.manual_seed(0)
    model, judge = build_model("mlp", 6, 1, 8).eval(), build_model("mlp", 6, 1, 8).eval()
    config = ShowcaseConfig(per_class=2, classes=3, n_inputs=4, n_units=1, seed_resolution=2,
                            tasks=("class-generation",), reference_split=20, reference_size=20, seed=3)
    config = config.scaled_steps(0.02)
    out = run_showcase({"m": model}, judge, train, test, config=config, progress=False)
    labels = out.results["class-generation"]["m"].targets
    assert len(labels) == 6 and len(set(labels.tolist())) == 3 and (labels.bincount(minlength=6) % 2 == 0).all()
    again = run_showcase({"m": model}, judge, train, test, config=config, progress=False)
    assert torch.equal(again.results["class-generation"]["m"].targets, labels)
