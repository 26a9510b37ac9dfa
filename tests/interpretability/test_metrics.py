"""Metrics against closed forms and against the random baseline."""

from __future__ import annotations

import pytest
import torch

from optimist.core.stats import t_interval as mean_ci
from optimist.interpretability import (
    alignment,
    attribute,
    cosine_alignment,
    deletion_auc,
    explanation_function,
    gini,
    gradient_alignment,
    insertion_auc,
    max_sensitivity,
    relative_infidelity,
)
from optimist.interpretability.attributions import random_attribution
from optimist.interpretability.metrics import perturbation_curve, pixel_ranking
from optimist.interpretability.stats import paired_differences

from .helpers import binary_linear, images


def test_alignment_of_linear_model_is_distance_to_boundary():
    model, w = binary_linear(28 * 28, seed=1)
    x = images(16, seed=2) - 0.5  # both sides of the boundary
    res = gradient_alignment(model, x, target=0)  # logit z = <w, x>
    z = x.flatten(1) @ w
    distance = z.abs() / w.norm()
    torch.testing.assert_close(res["alignment"], distance, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(res["mean_alignment"], distance.mean(), rtol=1e-5, atol=1e-6)
    # it is the distance: the projection onto the boundary is that far away and has z = 0
    proj = x.flatten(1) - (z / w.norm() ** 2).unsqueeze(1) * w
    torch.testing.assert_close(proj @ w, torch.zeros(16), atol=1e-4, rtol=0)
    torch.testing.assert_close((x.flatten(1) - proj).norm(dim=1), distance, rtol=1e-4, atol=1e-5)
    cos = (z / (x.flatten(1).norm(dim=1) * w.norm())).abs()
    torch.testing.assert_close(res["cosine"], cos, rtol=1e-5, atol=1e-6)


def test_alignment_properties():
    x = images(4)
    torch.testing.assert_close(cosine_alignment(x, 3 * x), torch.ones(4))
    torch.testing.assert_close(alignment(x, 5 * x), x.flatten(1).norm(dim=1))  # scale-free in the map
    assert (cosine_alignment(x, random_attribution(x)) < 0.2).all()
    with pytest.raises(ValueError, match="same shape"):
        alignment(x, x[:2])


def test_gini_closed_forms():
    d = 100
    assert gini(torch.ones(1, d)).item() == pytest.approx(0.0, abs=1e-6)
    one_hot = torch.zeros(1, d)
    one_hot[0, 7] = -3.0
    assert gini(one_hot).item() == pytest.approx(1 - 1 / d, abs=1e-6)
    assert gini(torch.zeros(1, d)).item() == 0.0
    noise = torch.randn(4, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    assert gini(noise).mean().item() == pytest.approx(0.41, abs=0.02)  # Gini of a half-normal is about 0.41
    torch.testing.assert_close(gini(7 * noise), gini(noise))


def test_pixel_ranking_orders_and_breaks_ties_randomly():
    a = torch.zeros(1, 1, 4, 4)
    a[0, 0, 3, 3], a[0, 0, 0, 1], a[0, 0, 2, 2] = 5.0, -9.0, 1.0
    signed = pixel_ranking(a, "signed")[0]
    assert signed[:2].tolist() == [15, 10] and signed[-1].item() == 1
    assert pixel_ranking(a)[0][:3].tolist() == [1, 15, 10]  # default: by magnitude
    ties = signed[2:-1].tolist()  # the 13 zero pixels
    assert sorted(ties) == sorted(set(range(16)) - {15, 10, 1}) and ties != sorted(ties)
    with pytest.raises(ValueError, match="abs, signed"):
        pixel_ranking(a, "max")


def test_deletion_of_true_linear_gradient_beats_random():
    model, _ = binary_linear(28 * 28, seed=3)
    x = images(64, seed=4)
    t = model(x).argmax(1)
    grad = attribute(model, x, t, method="gradient")
    rand = random_attribution(x, seed=5)
    # default order (|gradient|): the largest weights carry most of the logit, so deleting them first hurts more
    diff = deletion_auc(model, x, grad, t) - deletion_auc(model, x, rand, t)
    assert mean_ci(diff.numpy())[2] < 0  # the whole 95% interval of the paired difference is below zero
    # signed order: for x >= 0 and a black baseline this is the exact first-order deletion order
    d_grad, d_rand = (deletion_auc(model, x, a, t, order="signed") for a in (grad, rand))
    assert d_grad.mean() < d_rand.mean() - 0.3 and (d_grad < d_rand).float().mean() > 0.95
    i_grad, i_rand = (insertion_auc(model, x, a, t) for a in (grad, rand))
    assert i_grad.mean() > i_rand.mean() + 0.05


def test_perturbation_curve_endpoints():
    model, _ = binary_linear(28 * 28, seed=6)
    x = images(5, seed=7)
    t = torch.tensor([0, 1, 0, 1, 0])
    a = random_attribution(x)
    probs = lambda imgs: model(imgs).softmax(1).gather(1, t.view(-1, 1)).squeeze(1)  # noqa: E731
    with torch.no_grad():
        c = perturbation_curve(model, x, a, t, "deletion", steps=7, baseline="black")
        assert c.shape == (5, 8)
        torch.testing.assert_close(c[:, 0], probs(x))
        torch.testing.assert_close(c[:, -1], probs(torch.zeros_like(x)))
        c = perturbation_curve(model, x, a, t, "insertion", steps=7, baseline=0.5, batch_size=3)
        torch.testing.assert_close(c[:, 0], probs(torch.full_like(x, 0.5)))
        torch.testing.assert_close(c[:, -1], probs(x))
    with pytest.raises(ValueError, match="black, blur, mean"):
        deletion_auc(model, x, a, t, baseline="gray")


def test_infidelity_and_sensitivity_of_linear_gradient():
    model, _ = binary_linear(28 * 28, seed=8)
    x = images(6, seed=9)
    t = model(x).argmax(1)
    grad = attribute(model, x, t, method="gradient")
    infd = relative_infidelity(model, x, grad, t, sigma=0.1, n_perturb_samples=8)
    assert infd.max() < 1e-4  # a linear model's gradient predicts every change exactly
    assert relative_infidelity(model, x, random_attribution(x), t, n_perturb_samples=8).mean() > 0.7
    sens = max_sensitivity(explanation_function(model, "gradient"), x, t, n_perturb_samples=3)
    assert sens.max() < 1e-5  # a constant gradient does not move
    torch.manual_seed(0)
    assert max_sensitivity(explanation_function(model, "random"), x, t, n_perturb_samples=3).min() > 1.0


def test_mean_ci_and_paired_differences():
    m, lo, hi = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert m == 2.5 and lo < 2.5 < hi and hi - 2.5 == pytest.approx(2.5 - lo)
    import pandas as pd

    df = pd.DataFrame({"model": ["a"] * 3 + ["b"] * 3, "method": "g", "metric": "alignment",
                       "image": [0, 1, 2] * 2, "value": [1.0, 5.0, 9.0, 2.0, 6.0, 10.5]})
    d = paired_differences(df, "a")
    assert d["difference"].item() == pytest.approx(3.5 / 3) and d["ci_low"].item() > 0  # paired: noise cancels
    with pytest.raises(ValueError, match="reference"):
        paired_differences(df, "c")
