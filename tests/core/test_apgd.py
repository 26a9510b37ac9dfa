"""The DLR losses and the APGD step schedule, checked on models with closed-form answers."""

import pytest
import torch
from torch import nn

from closed_form_models import Linear
from optimist.core.attacks import Threat, pgd
from optimist.core.attacks.objectives import dlr_of_logits, targeted_dlr_of_logits, targeted_margin_of_logits
from optimist.core.attacks.pgd import apgd_checkpoints


class MultiLinear(nn.Module):
    """z = W x + b with K classes: every pairwise margin is linear, so its maximum over a ball is closed-form."""

    def __init__(self, w: torch.Tensor, b: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w.clone())  # (K, D)
        self.b = nn.Parameter(b.clone())
        self.num_classes = w.shape[0]

    def forward(self, x):
        return x.flatten(1) @ self.w.T + self.b


def test_dlr_values_and_invariance():
    z = torch.tensor([[3.0, 1.0, 0.0, -1.0], [0.5, 2.0, 1.0, -3.0]])
    y = torch.tensor([0, 0])
    # (best other - z_y) / (z_pi1 - z_pi3)
    assert torch.allclose(dlr_of_logits(z, y), torch.tensor([(1 - 3) / (3 - 0), (2 - 0.5) / (2 - 0.5)]))
    # invariant to shifting and scaling the logits: a temperature cannot hide the margin
    assert torch.allclose(dlr_of_logits(7 * z - 4, y), dlr_of_logits(z, y), atol=1e-6)
    t = torch.tensor([1, 2])
    expected = torch.tensor([(1 - 3) / (3 - (0 - 1) / 2), (1 - 0.5) / (2 - (0.5 - 3) / 2)])
    assert torch.allclose(targeted_dlr_of_logits(z, y, t), expected)
    assert torch.allclose(targeted_dlr_of_logits(3 * z + 1, y, t), expected, atol=1e-6)
    assert torch.equal(targeted_margin_of_logits(z, y, t), torch.tensor([1 - 3.0, 1 - 0.5]))
    # positive exactly when the label is beaten (untargeted) / the target beats the label (targeted)
    assert ((dlr_of_logits(z, y) > 0) == (z.argmax(1) != y)).all()


def test_dlr_needs_enough_classes():
    with pytest.raises(ValueError, match="at least 3 classes"):
        dlr_of_logits(torch.zeros(2, 2), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="at least 4 classes"):
        targeted_dlr_of_logits(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), torch.ones(2, dtype=torch.long))


def test_apgd_checkpoints():
    assert apgd_checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert apgd_checkpoints(10) == [3, 5, 6, 7, 8, 9, 10]
    assert apgd_checkpoints(1) == [1]


@pytest.mark.parametrize("norm,eps", [("linf", 0.02), ("l2", 0.3)])
def test_apgd_reaches_the_closed_form_maximum_on_a_linear_model(norm, eps):
    """For f = w.x + b and interior x, the largest margin in the ball is f(x) + eps * ||w||_dual."""
    torch.manual_seed(0)
    w = torch.randn(1, 4, 4)
    model = Linear(w, 0.0)
    x = 0.5 + 0.01 * torch.randn(32, 1, 4, 4)
    y = torch.zeros(32, dtype=torch.long)  # margin of class 0 = f
    t = Threat(norm, eps)
    f = x.flatten(1) @ w.flatten()
    best = f + eps * t.dual_norm(w.flatten()[None])
    xa, score = pgd(model, x, y, t, steps=20, loss="margin", schedule="apgd", return_loss=True)
    assert torch.allclose(score, best, atol=1e-4)
    assert (t.size(xa - x) <= eps + 1e-6).all()


def test_targeted_losses_break_exactly_the_reachable_points():
    """Toward class t, the ball reaches the t-vs-y boundary iff (w_t - w_y).x + b_t - b_y + eps*||w_t - w_y||_1 > 0."""
    torch.manual_seed(1)
    k, d = 5, 16
    w = torch.randn(k, d)
    b = -0.5 * w.sum(1)  # every boundary passes through the centre of the cloud
    model = MultiLinear(w, b)
    x = 0.5 + 0.03 * torch.randn(300, 1, 4, 4)
    y = model(x).argmax(1)
    t = (y + 1) % k
    eps = 0.01
    diff = w[t] - w[y]
    reach = (diff * x.flatten(1)).sum(1) + b[t] - b[y] + eps * diff.abs().sum(1)
    clear = reach.abs() > 1e-3
    for loss in ("margin-targeted", "dlr-targeted"):
        xa, score = pgd(model, x, y, Threat("linf", eps), steps=30, loss=loss, target=t, schedule="apgd",
                        return_loss=True)
        with torch.no_grad():
            z = model(xa)
            moved = z.gather(1, t[:, None]).squeeze(1) > z.gather(1, y[:, None]).squeeze(1)
        # the target can overtake the label only where the closed form says it can, and does wherever it can
        assert torch.equal(moved[clear], (reach > 0)[clear]), loss
        assert 0 < moved.sum() < len(y)
    with pytest.raises(ValueError, match="needs target="):
        pgd(model, x, y, "linf:0.01", loss="dlr-targeted")
    with pytest.raises(ValueError, match="takes no target"):
        pgd(model, x, y, "linf:0.01", loss="dlr", target=t)
    with pytest.raises(ValueError, match="must differ"):
        pgd(model, x, y, "linf:0.01", loss="margin-targeted", target=y)


def test_dlr_untargeted_breaks_what_the_closed_form_allows():
    torch.manual_seed(2)
    k, d = 4, 16
    w = torch.randn(k, d)
    b = -0.5 * w.sum(1)
    model = MultiLinear(w, b)
    x = 0.5 + 0.03 * torch.randn(300, 1, 4, 4)
    y = model(x).argmax(1)
    eps = 0.01
    # best margin over the ball against any wrong class j
    diff = w[None] - w[y][:, None]  # (N, K, D)
    reach = (diff * x.flatten(1)[:, None]).sum(2) + (b[None] - b[y][:, None]) + eps * diff.abs().sum(2)
    reach = reach.scatter(1, y[:, None], float("-inf")).amax(1)
    xa = pgd(model, x, y, Threat("linf", eps), steps=50, loss="dlr", schedule="apgd", restarts=3)
    with torch.no_grad():
        fooled = model(xa).argmax(1) != y
    assert not (fooled & (reach < 0)).any()  # never past what is reachable
    # and nearly everything comfortably reachable is found (an untargeted loss follows the runner-up class,
    # which is not always the one within reach: what the targeted stages are for)
    assert fooled[reach > 0.05].float().mean() > 0.97
    assert 0 < fooled.sum() < len(y)


def test_apgd_step_halving_converges_where_a_fixed_step_oscillates():
    """A concave objective peaking inside the ball: a fixed step of 2*eps bounces, the APGD schedule halves it."""
    x0 = torch.full((4, 1, 4, 4), 0.5)
    peak = x0 + torch.linspace(-0.07, 0.07, 16).view(1, 1, 4, 4)

    def neg_dist(model, z, target):
        return -((z - target) ** 2).flatten(1).sum(1)

    model = nn.Linear(1, 1)  # unused by the objective, but the engine freezes some parameters
    t = Threat("linf", 0.1)
    fixed = pgd(model, x0, peak, t, steps=60, step_size=0.2, random_start=False, objective=neg_dist)
    apgd = pgd(model, x0, peak, t, steps=60, step_size=0.2, random_start=False, objective=neg_dist,
               schedule="apgd")
    assert (fixed - peak).abs().max() > 0.02
    assert (apgd - peak).abs().max() < 0.005
    with pytest.raises(ValueError, match="schedule.*must be one of fixed, apgd"):
        pgd(model, x0, peak, t, objective=neg_dist, schedule="cosine")


def test_apgd_respects_ball_range_and_early_stop():
    torch.manual_seed(3)
    model = MultiLinear(torch.randn(10, 16) * 3, torch.zeros(10))
    x = torch.rand(64, 1, 4, 4)
    y = model(x).argmax(1)
    for norm, eps in (("linf", 0.05), ("l2", 0.3)):
        t = Threat(norm, eps)
        xa = pgd(model, x, y, t, steps=15, loss="dlr", schedule="apgd", early_stop=True)
        assert xa.min() >= 0 and xa.max() <= 1
        assert (t.size(xa - x) <= eps + 1e-5).all()
