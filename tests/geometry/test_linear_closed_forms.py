"""Every instrument has a closed form on a linear classifier f(x) = w.x + b (logits [0, f])."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from closed_form_models import Linear
from optimist.geometry import (
    dct_block_basis,
    deepfool_margins,
    fooling_rate,
    hessian_vector_product,
    input_hessian_eigenvalue,
    local_linearity_gap,
    margin_distribution,
    scalar_function,
    subspace_margins,
    universal_perturbation,
)


class Softmax(nn.Module):
    """A multi-class linear softmax model W x + c (for the loss Hessian's closed form)."""

    def __init__(self, d: int, k: int):
        super().__init__()
        g = torch.Generator().manual_seed(1)
        self.lin = nn.Linear(d, k)
        with torch.no_grad():
            self.lin.weight.copy_(torch.randn(k, d, generator=g) * 0.1)
            self.lin.bias.copy_(torch.randn(k, generator=g))
        self.num_classes = k

    def forward(self, x):
        return self.lin(x.flatten(1))


@pytest.fixture
def linear():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(1, 8, 8, generator=g) * 0.3
    x = torch.rand(12, 1, 8, 8, generator=g)
    b = -float((x.flatten(1) @ w.flatten()).median())  # images on both sides of the boundary
    return Linear(w, b), x


def _f(model, x):
    return x.flatten(1) @ model.w.detach() + model.b.detach()


def test_l2_and_linf_margins(linear):
    model, x = linear
    w = model.w.detach()
    res = margin_distribution(model, x, norms=("l2", "linf"), overshoot=0.0)
    expected_l2 = _f(model, x).abs() / w.norm()
    expected_linf = _f(model, x).abs() / w.abs().sum()
    assert res["l2"].success.all() and res["linf"].success.all()
    torch.testing.assert_close(res["l2"].margin, expected_l2, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(res["linf"].margin, expected_linf, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(res["l2"].relative, expected_l2 / x.flatten(1).norm(dim=1), rtol=1e-3, atol=1e-3)
    # the default overshoot scales the margin by 1.02, as DeepFool's rho does
    over = deepfool_margins(model, x, "l2")
    torch.testing.assert_close(over.margin, 1.02 * expected_l2, rtol=2e-3, atol=2e-3)
    assert res["l2"].summary()["found"] == 1.0
    assert math.isclose(res["l2"].summary()["median"], float(np.median(expected_l2.numpy())), rel_tol=1e-2)


def test_subspace_margin_is_distance_over_projected_normal(linear):
    model, x = linear
    w = model.w.detach()
    res = subspace_margins(model, x, block=4, stride=2, overshoot=0.0)
    assert res.starts == [0, 2, 4]
    for i, s in enumerate(res.starts):
        p_w = dct_block_basis(8, s, 4) @ w  # coordinates of P w in the orthonormal block basis
        expected = _f(model, x).abs() / p_w.norm()
        torch.testing.assert_close(res.margin[i], expected, rtol=2e-3, atol=2e-3)
    assert (res.margin >= deepfool_margins(model, x, "l2", overshoot=0.0).margin - 1e-4).all()
    assert list(res.table()["start"]) == [0, 2, 4]


def test_subspace_orthogonal_to_w_gives_infinite_margin():
    """A direction the classifier ignores: the margin there is enormous (float round-off leaves ||P w|| ~ 1e-8,
    not 0) or infinite, while the block that holds w has the closed-form margin."""
    w = dct_block_basis(8, 4, 4)[0].view(1, 8, 8)  # a high-frequency direction, orthogonal to the low block
    model = Linear(w, 0.05)
    x = torch.full((3, 1, 8, 8), 0.5)
    res = subspace_margins(model, x, block=4, stride=4, max_iter=5, overshoot=0.0)
    assert res.starts == [0, 4]
    expected = _f(model, x).abs()  # ||w|| = 1 and w lies in the second block
    torch.testing.assert_close(res.margin[1], expected, rtol=1e-3, atol=1e-3)
    assert (res.margin[0] > 1e4 * res.margin[1]).all()


@pytest.mark.parametrize("method", ["reverse", "forward"])
def test_hessian_of_linear_decision_function_is_zero(linear, method):
    model, x = linear
    fn = scalar_function(model, x, of="margin")
    hv = hessian_vector_product(fn, x, torch.randn_like(x), method=method)
    assert hv.abs().max() < 1e-6
    eig = input_hessian_eigenvalue(model, x, of="margin", iters=5, method=method).eigenvalue
    assert eig.abs().max() < 1e-6
    assert local_linearity_gap(model, x, of="margin", threat="linf:0.1", steps=5).abs().max() < 1e-4


def test_loss_hessian_eigenvalue_matches_closed_form():
    """Softmax regression: H = W^T (diag p - p p^T) W; power iteration finds its top eigenvalue."""
    model = Softmax(16, 5)
    x = torch.rand(6, 1, 4, 4, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    res = input_hessian_eigenvalue(model, x, y, of="loss", iters=50, tol=1e-6)
    w = model.lin.weight.detach().double()
    for i in range(len(x)):
        with torch.no_grad():
            p = F.softmax(model(x[i:i + 1]).double(), 1)[0]
        h = w.T @ (torch.diag(p) - torch.outer(p, p)) @ w
        top = torch.linalg.eigvalsh(h)[-1]
        assert math.isclose(float(res.eigenvalue[i]), float(top), rel_tol=1e-3)
        v = res.eigenvector[i].flatten().double()
        assert float((h @ v).norm() / top) == pytest.approx(1.0, rel=1e-2)  # an eigenvector, unit norm
    # both HVP routes agree
    fn = scalar_function(model, x, y)
    v = torch.randn_like(x)
    torch.testing.assert_close(hessian_vector_product(fn, x, v, "reverse"), hessian_vector_product(fn, x, v, "forward"))
    # the loss of a linear model is curved, so its linearity gap is positive
    assert (local_linearity_gap(model, x, y, "linf:0.1", steps=5) > 0).all()


def test_universal_perturbation_on_linear_classifier():
    """All images on one side: the best universal perturbation is -eps w/||w||; it fools exactly those with
    f(x)/||w|| < eps (no clipping: images sit mid-range)."""
    g = torch.Generator().manual_seed(3)
    w = torch.randn(1, 6, 6, generator=g)
    w = w / w.norm()
    x = 0.5 + 0.05 * torch.rand(200, 1, 6, 6, generator=g)
    f0 = x.flatten(1) @ w.flatten()
    model = Linear(w, -float(f0.min()) + 1e-3)  # every f(x) > 0
    dist = _f(model, x)  # ||w|| = 1
    eps = float(dist.quantile(0.6))
    res = universal_perturbation(model, x[:100], f"l2:{eps}", target_fooling_rate=1.0, max_passes=3, batch_size=8)
    v = res.perturbation.flatten()
    assert float(v.norm()) == pytest.approx(eps, rel=1e-3)
    assert float(torch.dot(v, w.flatten()) / v.norm()) < -0.999  # along -w
    expected = float((dist[100:] < eps).float().mean())
    assert fooling_rate(model, x[100:], res.perturbation) == pytest.approx(expected, abs=0.02)
    assert res.passes >= 1 and res.fit_fooling_rate == max(res.history)


def test_bad_inputs_raise():
    model = Linear(torch.ones(1, 4, 4), 0.0)
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match="norm"):
        deepfool_margins(model, x, "l1")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        deepfool_margins(model, x * 3)
    with pytest.raises(ValueError, match="square"):
        subspace_margins(model, torch.rand(2, 1, 4, 6))
    with pytest.raises(ValueError, match="target"):
        input_hessian_eigenvalue(model, x, of="logits")
    with pytest.raises(ValueError, match="HVP method"):
        hessian_vector_product(scalar_function(model, x), x, x, method="finite")
    with pytest.raises(ValueError, match="finite budget"):
        universal_perturbation(model, x, "l2:inf")
    with pytest.raises(ValueError, match="target_fooling_rate"):
        universal_perturbation(model, x, "l2:1", target_fooling_rate=0)
    with pytest.raises(ValueError, match="does not match"):
        fooling_rate(model, x, torch.zeros(1, 1, 3, 3))
