import math

import pytest
import torch

from optimist.core.application.shards import map_chunks
from optimist.generation import (
    Budget,
    ClassGaussian,
    downsample,
    generate,
    inpaint,
    invert,
    square_mask,
    super_resolve,
    top_units,
    translate,
    visualise,
)
from optimist.generation.budgets import scale_l2_eps
from optimist.generation.objectives import Packed
from optimist.generation.seeds import class_labels
from optimist.generation.showcase import FMNIST_TRANSLATION
from optimist.generation.tasks import unmasked_rms
from optimist.generation.tasks.engine import batches_by

FAST = {  # the default budgets with fewer steps, to keep the tests quick
    "generation": Budget(scale_l2_eps(40), 0.15, 25),
    "inpainting": Budget(scale_l2_eps(21.6), 0.1, 40),
    "super-resolution": Budget(scale_l2_eps(8), 0.05, 20),
    "translation": Budget(scale_l2_eps(80), 0.3, 30),
}


def _check_budget_and_range(result, eps):
    assert result.images.min() >= 0 and result.images.max() <= 1
    if math.isfinite(eps):
        assert (result.distance <= eps + 1e-4).all()


def _check_improves(result):
    assert (result.improvement >= -1e-5).all()  # the best iterate is never worse than the seed
    assert result.improvement.mean() > 0
    assert result.objective.shape == result.seed_objective.shape == (len(result),)


def test_budget_scaling_keeps_rms_per_pixel():
    eps = scale_l2_eps(40.0)
    assert eps == pytest.approx(40 * math.sqrt(784 / 150528))
    assert eps / 28 == pytest.approx(40 / math.sqrt(150528))
    with pytest.raises(ValueError):
        Budget(0.0, 0.1, 10)
    with pytest.raises(ValueError):
        Budget(1.0, 0.1, 0)
    assert Budget(1.0, 0.1, 10).with_(steps=5).steps == 5


@pytest.mark.parametrize("which", ["standard", "robust"])
def test_generation_stays_in_budget_and_improves(small_pair, fmnist_train, which):
    sampler = ClassGaussian.fit(fmnist_train.images[:6000], fmnist_train.targets[:6000], resolution=4)
    y = class_labels(range(10), 2)
    seeds = sampler.sample(y, torch.Generator().manual_seed(0))
    r = generate(small_pair[which], seeds, y, budget=FAST["generation"])
    _check_budget_and_range(r, FAST["generation"].eps)
    _check_improves(r)
    assert torch.equal(r.seeds, seeds) and torch.equal(r.targets, y)
    assert r.settings["eps"] == FAST["generation"].eps and r.settings["task"] == "class-generation"


def test_confidence_floor_stops_early(small_pair, inputs):
    x, y = inputs
    target = torch.tensor([FMNIST_TRANSLATION[int(k)] for k in y])
    model = small_pair["standard"]
    free = translate(model, x, target, budget=FAST["translation"])
    floored = translate(model, x, target, budget=FAST["translation"], confidence=0.5)
    assert (floored.objective >= -math.log(0.5) - 1e-5).all()
    assert floored.distance.mean() < free.distance.mean()
    with pytest.raises(ValueError, match="confidence"):
        translate(model, x, target, budget=FAST["translation"], confidence=1.5)


def test_super_resolution(small_pair, inputs):
    x, y = inputs
    low = downsample(x, 4)
    assert low.shape == (20, 1, 7, 7)
    r = super_resolve(small_pair["robust"], low, y, size=28, budget=FAST["super-resolution"], ground_truth=x)
    _check_budget_and_range(r, FAST["super-resolution"].eps)
    _check_improves(r)
    assert torch.equal(r.reference, x)
    with pytest.raises(ValueError, match="divisor"):
        downsample(x, 5)
    with pytest.raises(ValueError, match="ground_truth"):
        super_resolve(small_pair["robust"], low, y, size=28, ground_truth=x[:3])


def test_translation(small_pair, inputs):
    x, y = inputs
    target = torch.tensor([FMNIST_TRANSLATION[int(k)] for k in y])
    r = translate(small_pair["robust"], x, target, budget=FAST["translation"], source_classes=y)
    _check_budget_and_range(r, FAST["translation"].eps)
    _check_improves(r)
    assert torch.equal(r.extras["source"], y)
    with pytest.raises(ValueError, match="target_classes"):
        translate(small_pair["robust"], x, target + 10)


def test_inpainting_keeps_unmasked_pixels_within_tolerance(small_pair, inputs):
    """With the default lam = 10 the known pixels move by at most 0.05 RMS on average (0.1 worst case)."""
    x, y = inputs
    mask = square_mask(len(x), image_size=28, size=10, generator=torch.Generator().manual_seed(0))
    assert mask.sum(dim=(1, 2, 3)).eq(100).all()
    for which in ("standard", "robust"):
        r = inpaint(small_pair[which], x, y, mask, budget=FAST["inpainting"])
        _check_budget_and_range(r, FAST["inpainting"].eps)
        _check_improves(r)
        drift = r.extras["unmasked_rms"]
        assert torch.allclose(drift, unmasked_rms(r.images, x, mask))
        assert drift.mean() <= 0.05 and drift.max() <= 0.1
        inside = ((r.images - r.seeds) * mask).flatten(1).norm(dim=1)
        assert inside.mean() > 0.1  # the hole itself is painted


def test_inpainting_penalty_weight_controls_drift(small_pair, inputs):
    x, y = inputs
    mask = square_mask(len(x), image_size=28, size=10, generator=torch.Generator().manual_seed(0))
    loose = inpaint(small_pair["robust"], x, y, mask, lam=0.1, budget=FAST["inpainting"])
    tight = inpaint(small_pair["robust"], x, y, mask, lam=1000.0, budget=FAST["inpainting"])
    assert tight.extras["unmasked_rms"].mean() < 0.5 * loose.extras["unmasked_rms"].mean()


def test_inpainting_rejects_bad_masks(toy_model, inputs):
    x, y = inputs
    with pytest.raises(ValueError, match="mask must have shape"):
        inpaint(toy_model, x, y, torch.zeros(len(x), 1, 14, 14))
    with pytest.raises(ValueError, match="0 \\(known\\) and 1"):
        inpaint(toy_model, x, y, torch.full((len(x), 1, 28, 28), 0.5))
    with pytest.raises(ValueError, match="fill"):
        inpaint(toy_model, x, y, torch.zeros(len(x), 1, 28, 28), fill=2.0)
    with pytest.raises(ValueError, match="lam"):
        inpaint(toy_model, x, y, torch.zeros(len(x), 1, 28, 28), lam=-1)


def test_inversion_matches_the_representation(small_pair, inputs):
    x, y = inputs
    budget = Budget(math.inf, 0.2, 100)  # the converged robust model needs more than 60 steps of 0.1
    r = invert(small_pair["robust"], x[:8], budget=budget, labels=y[:8], generator=torch.Generator().manual_seed(0))
    _check_budget_and_range(r, budget.eps)
    _check_improves(r)
    assert r.seed_objective.mean() > 0.5 and r.objective.mean() < 0.5 * r.seed_objective.mean()
    with pytest.raises(ValueError, match="seeds"):
        invert(small_pair["robust"], x[:8], seeds=x[:4])


def test_feature_visualisation_raises_the_unit(small_pair, inputs):
    x, _ = inputs
    model = small_pair["robust"]
    units = top_units(model, x, k=4)
    r = visualise(model, x[:4], units, budget=Budget(math.inf, 0.1, 30))
    _check_improves(r)
    with torch.no_grad():
        before = model.features(x[:4]).gather(1, units[:, None]).squeeze(1)
        after = model.features(r.images).gather(1, units[:, None]).squeeze(1)
    assert (after > before).all()
    assert torch.allclose(-after, r.objective, atol=1e-4)
    with pytest.raises(ValueError, match="units"):
        visualise(model, x[:4], torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="units must lie"):
        visualise(model, x[:4], 10_000)


def test_packed_slices_every_tensor():
    p = Packed(a=torch.arange(5), b=torch.ones(5, 2), lam=3.0)
    q = p[torch.tensor([1, 3])]
    assert q.a.tolist() == [1, 3] and q.b.shape == (2, 2) and q.lam == 3.0 and len(q) == 2
    assert p.to("cpu").a.tolist() == list(range(5))
    with pytest.raises(ValueError, match="first dimension"):
        Packed(a=torch.zeros(2), b=torch.zeros(3))
    with pytest.raises(AttributeError, match="no field"):
        _ = p.missing


def test_tasks_reject_bad_labels_and_budgets(toy_model, inputs):
    x, y = inputs
    with pytest.raises(ValueError, match="targets"):
        generate(toy_model, x, y[:3])
    with pytest.raises(ValueError, match="targets"):
        generate(toy_model, x, y.float())
    with pytest.raises(ValueError, match="Budget"):
        generate(toy_model, x, y, budget="l2:1")
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        generate(toy_model, x * 2, y)


def test_the_runners_batches_give_the_fixed_batches_result(small_pair, inputs):
    """Inside batches_by (what compare does with run.map) the descent runs in the runner's chunks: same images."""
    x, y = inputs
    budget = Budget(scale_l2_eps(8), 0.05, 5)
    whole = super_resolve(small_pair["robust"], downsample(x[:7], 4), y[:7], size=28, budget=budget)
    calls = []

    def mapper(fn, seeds):
        calls.append(len(seeds))
        return map_chunks(fn, [seeds], batch_size=3, seed=0)

    with batches_by(mapper):
        chunked = super_resolve(small_pair["robust"], downsample(x[:7], 4), y[:7], size=28, budget=budget)
    assert calls == [7]
    assert torch.allclose(whole.images, chunked.images, atol=1e-5)
    assert torch.allclose(whole.objective, chunked.objective, atol=1e-5)
