import pytest
import torch

from optimist.generation import Budget, Evaluator, judge, translate
from optimist.generation.budgets import scale_l2_eps
from optimist.generation.evaluate import RealReference, quality
from optimist.generation.showcase import FMNIST_TRANSLATION


@pytest.fixture(scope="module")
def reference(tiny_evaluator, fmnist_test):
    return RealReference(Evaluator(tiny_evaluator), fmnist_test.images[5000:7000], fmnist_test.targets[5000:7000])


def test_evaluator_must_be_independent(small_pair, tiny_evaluator):
    judge = Evaluator(small_pair["robust"])
    with pytest.raises(ValueError, match="generating model"):
        judge.check_independent(small_pair["robust"])
    Evaluator(tiny_evaluator).check_independent(small_pair["robust"])
    with pytest.raises(ValueError, match="not an Optimist classifier. Wrap it"):
        Evaluator(torch.nn.Linear(3, 3))


def test_real_images_score_like_the_evaluator(reference, tiny_evaluator, fmnist_test):
    x, y = fmnist_test.images[:200], fmnist_test.targets[:200]
    row = quality(x, y, reference, ground_truth=x)
    with torch.no_grad():
        acc = (tiny_evaluator(x).argmax(1) == y).float().mean().item()
    assert row["evaluator accuracy"] == pytest.approx(acc)
    assert row["mse"] == 0 and row["ssim"] == pytest.approx(1.0, abs=1e-6)
    noise = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert quality(noise, y, reference)["frechet"] > 5 * row["frechet"]


def test_noised_accuracy_keeps_real_images_and_matches_plain_at_zero_noise(reference, fmnist_test):
    from optimist.generation.evaluate import noised_accuracy

    judge = reference.evaluator
    x, y = fmnist_test.images[:200], fmnist_test.targets[:200]
    plain = quality(x, y, reference)["evaluator accuracy"]
    assert noised_accuracy(x, y, judge, sigma=0.0) == pytest.approx(plain)
    assert noised_accuracy(x, y, judge) > plain - 0.15
    assert noised_accuracy(x, y, judge, seed=1) == noised_accuracy(x, y, judge, seed=1)
    with pytest.raises(ValueError, match="sigma"):
        noised_accuracy(x, y, judge, sigma=-1)


def test_robust_translations_convince_the_independent_evaluator_more(small_pair, reference, fmnist_test):
    """Shirt -> coat and the like: the robust model's translations are the target class to another model."""
    idx = torch.arange(5000)[fmnist_test.targets[:5000] != 8][:60]  # bags have no natural neighbour
    x, y = fmnist_test.images[idx], fmnist_test.targets[idx]
    target = torch.tensor([FMNIST_TRANSLATION[int(k)] for k in y])
    budget = Budget(scale_l2_eps(80), 0.3, 30)
    results = {name: translate(m, x, target, budget=budget, source_classes=y, confidence=0.9)
               for name, m in small_pair.items()}
    table = judge(results, reference).set_index("generator")
    acc = table["evaluator accuracy"]
    assert acc["robust"] > acc["standard"] + 0.1
    assert table.loc["robust", "noised accuracy"] > table.loc["standard", "noised accuracy"] + 0.1
    assert table.loc["robust", "frechet"] < table.loc["standard", "frechet"]
    assert {"seed (no PGD)", "real images"} <= set(table.index)


def test_compare_needs_identical_seeds(small_pair, reference, inputs):
    x, y = inputs
    budget = Budget(1.0, 0.2, 3)
    a = translate(small_pair["standard"], x, y, budget=budget)
    b = translate(small_pair["robust"], x.flip(0), y.flip(0), budget=budget)
    with pytest.raises(ValueError, match="same task and seeds"):
        judge({"a": a, "b": b}, reference)
    with pytest.raises(ValueError, match="empty"):
        judge({}, reference)


def test_compare_reports_per_example_diagnostics(small_pair, reference, inputs):
    from optimist.generation import inpaint, square_mask

    x, y = inputs
    mask = square_mask(len(x), image_size=28, size=10, generator=torch.Generator().manual_seed(0))
    results = {k: inpaint(m, x, y, mask, budget=Budget(1.5, 0.1, 5)) for k, m in small_pair.items()}
    table = judge(results, reference).set_index("generator")
    assert table.loc["robust", "unmasked rms"] == pytest.approx(results["robust"].extras["unmasked_rms"].mean().item())
    assert table.loc["standard", "ssim"] < 1 and table.loc["seed (no PGD)", "mse"] > 0
