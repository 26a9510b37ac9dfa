"""Attribution methods: shapes, targets, and agreement with independent computations."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from optimist.core.models import build_model
from optimist.interpretability import METHODS, attribute, explanation_function
from optimist.interpretability.attributions import predicted_class, random_attribution

from .helpers import images


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    return build_model("small-cnn", 10, 1, 28).eval()


def _logit_grad(model, x, target):
    x = x.clone().requires_grad_(True)
    z = model(x).gather(1, target.view(-1, 1)).sum()
    return torch.autograd.grad(z, x)[0]


CHEAP = {"integrated-gradients": {"n_steps": 8}, "smoothgrad": {"nt_samples": 4}}


@pytest.mark.parametrize("method", list(METHODS))
def test_shape_and_default_target_is_prediction(cnn, method):
    x = images(4)
    pred = predicted_class(cnn, x)
    opts = CHEAP.get(method, {})
    torch.manual_seed(1)
    a_default = attribute(cnn, x, method=method, **opts)
    torch.manual_seed(1)  # smoothgrad draws noise: same seed, same noise
    a_pred = attribute(cnn, x, pred, method=method, **opts)
    assert a_default.shape == x.shape
    assert torch.isfinite(a_default).all() and a_default.abs().sum() > 0
    torch.testing.assert_close(a_default, a_pred)
    other = (pred + 1) % 10
    torch.manual_seed(1)
    assert not torch.allclose(attribute(cnn, x, other, method=method, **opts), a_pred)


def test_gradient_equals_autograd_of_target_logit(cnn):
    x = images(6, seed=3)
    target = torch.tensor([0, 1, 2, 3, 4, 5])
    torch.testing.assert_close(attribute(cnn, x, target, method="gradient"), _logit_grad(cnn, x, target))
    # one class for every image broadcasts
    torch.testing.assert_close(attribute(cnn, x, 7, method="gradient"), _logit_grad(cnn, x, torch.full((6,), 7)))


def test_input_x_gradient_and_smoothgrad_limits(cnn):
    x = images(4, seed=4)
    t = torch.tensor([1, 2, 3, 4])
    g = _logit_grad(cnn, x, t)
    torch.testing.assert_close(attribute(cnn, x, t, method="input-x-gradient"), x * g)
    # with (almost) no noise, smoothgrad is the signed gradient
    torch.testing.assert_close(attribute(cnn, x, t, method="smoothgrad", stdevs=1e-7, nt_samples=3), g,
                               rtol=1e-3, atol=1e-5)


def test_integrated_gradients_completeness(cnn):
    x = images(3, seed=5)
    t = torch.tensor([2, 5, 9])
    a = attribute(cnn, x, t, method="integrated-gradients", n_steps=128)
    with torch.no_grad():
        gap = cnn(x).gather(1, t.view(-1, 1)).squeeze(1) - cnn(torch.zeros_like(x)).gather(1, t.view(-1, 1)).squeeze(1)
    torch.testing.assert_close(a.flatten(1).sum(1), gap, rtol=0.02, atol=0.02)


class _GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad.clamp(min=0) * (x > 0)


class _GuidedReLUModule(nn.Module):
    def forward(self, x):
        return _GuidedReLU.apply(x)


def _guided_reference(model, x, target):
    """Guided backprop without captum: every ReLU module swapped for one with the guided backward rule."""
    m = copy.deepcopy(model)
    for mod in list(m.modules()):
        for child_name, child in list(mod.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(mod, child_name, _GuidedReLUModule())
    return _logit_grad(m, x, target)


@pytest.mark.parametrize("arch", ["small-cnn", "resnet18"])
def test_guided_backprop_on_registry_models(arch):
    torch.manual_seed(0)
    size = 16 if arch == "resnet18" else 28  # keeps the ResNet cheap; the ReLU structure is what matters
    model = build_model(arch, 10, 1, size).eval()
    x = images(2, size=size, seed=6)
    t = torch.tensor([3, 8])
    a = attribute(model, x, t, method="guided-backprop")
    ref = _guided_reference(model, x, t)
    torch.testing.assert_close(a, ref, rtol=1e-4, atol=1e-6)
    assert not torch.allclose(a, _logit_grad(model, x, t))  # it is not the plain gradient


def test_guided_backprop_refuses_reused_or_inplace_relus():
    relu = nn.ReLU()
    reused = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), relu, nn.Linear(8, 8), relu, nn.Linear(8, 3))
    with pytest.raises(ValueError, match=r"used more than once: \['2'\]"):
        attribute(reused, images(2, size=4), method="guided-backprop")
    inplace = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(inplace=True), nn.Linear(8, 3))
    with pytest.raises(ValueError, match=r"in-place: \['2'\]"):
        attribute(inplace, images(2, size=4), method="guided-backprop")


def test_no_parameter_gradients_accumulate(cnn):
    attribute(cnn, images(2), method="integrated-gradients", n_steps=4)
    assert all(p.grad is None for p in cnn.parameters())
    assert all(p.requires_grad for p in cnn.parameters())


def test_bad_inputs_raise(cnn):
    with pytest.raises(ValueError, match="gradient, input-x-gradient"):
        attribute(cnn, images(2), method="lime")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        attribute(cnn, torch.rand(1, 28, 28))
    with pytest.raises(ValueError, match="one per image"):
        attribute(cnn, images(3), target=torch.tensor([1, 2]))


def test_random_attribution_and_explanation_function(cnn):
    x = images(3)
    torch.testing.assert_close(random_attribution(x, seed=2), random_attribution(x, seed=2))
    assert not torch.allclose(random_attribution(x, seed=2), random_attribution(x, seed=3))
    explain = explanation_function(cnn, "gradient")
    (a,) = explain((x,), target=torch.tensor([1, 1, 1]))  # the tuple form captum's metrics use
    torch.testing.assert_close(a, attribute(cnn, x, 1))
    with pytest.raises(ValueError, match="random"):
        explanation_function(cnn, "noise")
