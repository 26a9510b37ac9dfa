"""The gradient-free Square-style search: inside the ball, closed-form checks, and masked gradients."""

import pytest
import torch

from closed_form_models import Linear
from optimist.core.attacks import Threat, pgd
from optimist.core.attacks.square import square, square_fraction


class Quantised(torch.nn.Module):
    """A linear model behind input quantisation with a zero gradient: PGD is blind, a search is not."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.num_classes = inner.num_classes

    def forward(self, x):
        return self.inner(x * 0 + (torch.round(x * 8) / 8).detach())


def _linear_case(seed=0, n=200):
    torch.manual_seed(seed)
    w = torch.randn(1, 4, 4)
    model = Linear(w, -0.5 * w.sum().item())
    x = 0.5 + 0.03 * torch.randn(n, 1, 4, 4)
    f = x.flatten(1) @ w.flatten() - 0.5 * w.sum()
    return model, w, x, f, (f > 0).long()


@pytest.mark.parametrize("norm,eps", [("linf", 0.02), ("l2", 0.1)])
def test_square_stays_in_ball_and_range(norm, eps):
    model, _, x, _, y = _linear_case()
    t = Threat(norm, eps)
    xa = square(model, x, y, t, queries=50)
    assert xa.min() >= 0 and xa.max() <= 1
    assert (t.size(xa - x) <= eps + 1e-5).all()


def test_square_linf_on_linear_model_breaks_only_and_nearly_all_reachable_points():
    """The ball reaches the boundary iff |f(x)| < eps * ||w||_1: the search never claims more, and finds most."""
    model, w, x, f, y = _linear_case()
    eps = 0.02
    reach = eps * w.abs().sum()
    xa = square(model, x, y, Threat("linf", eps), queries=300)
    with torch.no_grad():
        fooled = model(xa).argmax(1) != y
    assert not fooled[f.abs() >= reach].any()
    easy = f.abs() < 0.5 * reach
    assert easy.any() and fooled[easy].all()
    assert 0 < fooled.sum() < len(y)


def test_square_schedule_and_bad_input():
    assert square_fraction(0, 1000) == pytest.approx(0.8)
    assert square_fraction(999, 1000) < square_fraction(100, 1000) < square_fraction(0, 1000)
    model, _, x, _, y = _linear_case(n=4)
    with pytest.raises(ValueError, match="finite budget"):
        square(model, x, y, "l2:inf")
    with pytest.raises(ValueError, match="queries"):
        square(model, x, y, "linf:0.1", queries=-1)
    with pytest.raises(ValueError, match="p_init"):
        square(model, x, y, "linf:0.1", p_init=0)


def test_square_breaks_a_masked_model_that_pgd_cannot():
    model, w, x, f, y = _linear_case(seed=1)
    masked = Quantised(model)
    t = Threat("linf", 0.1)
    with torch.no_grad():
        clean = masked(x).argmax(1) == y
    torch.manual_seed(0)
    xp = pgd(masked, x, y, t, steps=20, random_start=False)
    xs = square(masked, x, y, t, queries=200)
    with torch.no_grad():
        pgd_fooled = (masked(xp).argmax(1) != y) & clean
        sq_fooled = (masked(xs).argmax(1) != y) & clean
    assert pgd_fooled.sum() == 0  # zero gradient: PGD does not move
    assert sq_fooled.float().sum() > 0.5 * clean.sum()
