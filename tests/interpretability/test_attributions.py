"""Attribution methods: shapes, targets, and agreement with independent computations."""

from __future__ import annotations

import copy
import time

import pytest
import torch
from torch import nn

from optimist.core.errors import InputError
from optimist.core.models import build_model, wrap
from optimist.interpretability import METHODS, attribute, explanation_function
from optimist.interpretability.attributions import (
    guided_backprop_model,
    predicted_class,
    random_attribution,
    relu_use,
)

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
    """Guided backprop without captum: every place holding a ReLU module gets one with the guided backward rule."""
    m = copy.deepcopy(model)
    for mod in list(m.modules()):
        for child_name, child in list(mod._modules.items()):  # not named_children(): it skips a repeated module
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


def _relu_state(model):
    """Every module of the model (the objects themselves) and every ReLU's in-place flag."""
    return [(name, m, getattr(m, "inplace", None)) for name, m in model.named_modules(remove_duplicate=False)]


def test_guided_backprop_runs_on_a_copy_for_shared_or_inplace_relus():
    relu = nn.ReLU()
    shared = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), relu, nn.Linear(8, 8), relu, nn.Linear(8, 3))
    inplace = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(inplace=True), nn.Linear(8, 3))
    x, t = images(3, size=4, seed=2), torch.tensor([0, 1, 2])
    for model, shared_n, inplace_n in ((shared, 1, 0), (inplace, 0, 1)):
        before = _relu_state(model)
        use = relu_use(model, x)
        assert (len(use.shared), len(use.inplace), use.functional) == (shared_n, inplace_n, 0)
        twin, note = guided_backprop_model(model, x)
        assert twin is not model and "ran on a copy" in note
        assert not relu_use(twin, x).needs_copy
        a = attribute(model, x, t, method="guided-backprop")
        torch.testing.assert_close(a, _guided_reference(model, x, t), rtol=1e-5, atol=1e-7)
        assert _relu_state(model) == before  # the caller's model: same modules, same flags


class _FunctionalRelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(16, 8), nn.Linear(8, 3)

    def forward(self, x):
        return self.b(torch.nn.functional.relu(self.a(x.flatten(1))))


def test_guided_backprop_refuses_functional_relus_at_once():
    model = _FunctionalRelu()
    assert relu_use(model, images(2, size=4)).functional == 1
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"calls relu 1 time\(s\) as a function.*nn\.ReLU modules"):
        attribute(model, images(2, size=4), method="guided-backprop")
    assert time.perf_counter() - start < 1.0


def _torchvision_resnet18() -> nn.Module:
    """torchvision's ResNet-18 (in-place ReLUs, each block's called twice) with random batch-norm statistics, so
    that the ReLUs cut somewhere."""
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=10)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return wrap(net, num_classes=10, in_channels=3, image_size=32).eval()


def test_guided_backprop_on_torchvision_resnet18_with_inplace_relus():
    """torchvision's ResNet-18: one in-place ``relu`` per block, called twice; the caller's model stays as it is."""
    model = _torchvision_resnet18()
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    t = torch.tensor([1, 4, 7])
    before = _relu_state(model)
    use = relu_use(model, x)
    assert len(use.inplace) == 9 and len(use.repeated) == 8 and use.functional == 0
    a = attribute(model, x, t, method="guided-backprop")
    assert _relu_state(model) == before and all(m.inplace for m in model.modules() if isinstance(m, nn.ReLU))
    # equal to guided backprop on the same network rebuilt with a separate, not in-place ReLU per use
    torch.testing.assert_close(a, _guided_reference(model, x, t), rtol=1e-4, atol=1e-7)
    assert (a - _logit_grad(model, x, t)).abs().max() > 0.1 * a.abs().max()  # not the plain gradient


class _TwoReluBlock(nn.Module):
    """A torchvision ``BasicBlock`` rebuilt with a new, not in-place ReLU for each of its one ``relu``'s two uses."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.conv1, self.bn1, self.conv2, self.bn2 = block.conv1, block.bn1, block.conv2, block.bn2
        self.downsample = block.downsample
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + (x if self.downsample is None else self.downsample(x)))


def test_guided_backprop_with_inplace_relus_equals_the_model_rebuilt_with_separate_relus():
    """captum's guided backprop on torchvision's ResNet-18 (in-place ReLUs, one per block called twice) gives the
    maps it gives on the same network rebuilt with a separate, not in-place ReLU per use, which it runs as is."""
    model = _torchvision_resnet18()
    rebuilt = copy.deepcopy(model)
    net = rebuilt.module  # wrap's torchvision network
    net.relu = nn.ReLU()
    for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
        for i, block in enumerate(list(layer)):
            layer[i] = _TwoReluBlock(block)
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    t = torch.tensor([1, 4, 7])
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model(x))  # the same function
    use = relu_use(rebuilt, x)
    assert use.modules == 17 and not (use.inplace or use.shared or use.repeated or use.functional)
    assert guided_backprop_model(rebuilt, x) == (rebuilt, "ran on the model itself")
    assert guided_backprop_model(model, x)[1].startswith("ran on a copy with 9 ReLU modules replaced")
    a = attribute(model, x, t, method="guided-backprop")
    torch.testing.assert_close(a, attribute(rebuilt, x, t, method="guided-backprop"), rtol=1e-4, atol=1e-7)
    assert (a - _logit_grad(model, x, t)).abs().max() > 0.1 * a.abs().max()  # not the plain gradient


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


def test_explanation_function_keeps_its_batch_size_and_finds_the_guided_model_once(cnn, monkeypatch):
    """Every call batches as asked (not only the first), and guided backprop's model is chosen on the first call."""
    from optimist.interpretability import attributions

    seen = []
    hook = cnn.register_forward_pre_hook(lambda _, args: seen.append(len(args[0])))
    explain = explanation_function(cnn, "gradient", batch_size=2)
    for _ in range(2):
        seen.clear()
        explain(images(5), target=torch.tensor([1] * 5))
        assert max(seen) == 2, seen
    hook.remove()
    chosen = []
    real = attributions.guided_backprop_model
    monkeypatch.setattr(attributions, "guided_backprop_model", lambda m, x: chosen.append(1) or real(m, x))
    explain = explanation_function(cnn, "guided-backprop")
    first, second = explain(images(3), target=1), explain(images(3), target=1)
    torch.testing.assert_close(first, second)
    assert chosen == [1]
