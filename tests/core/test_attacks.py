import math

import pytest
import torch
import torch.nn.functional as F

from closed_form_models import Linear
from optimist.core.attacks import Threat, deepfool, fgsm, pgd
from optimist.core.models import build_model


@pytest.fixture(scope="module")
def trained_tiny(fmnist_train, fmnist_test):
    """A small CNN trained for a few seconds: good enough to attack."""
    from optimist.core.data import subset
    from optimist.core.train import TrainConfig, train

    torch.manual_seed(0)
    m = build_model("small-cnn", 10, 1, 28, mean=[0.286], std=[0.353])
    train(m, subset(fmnist_train, 6000), TrainConfig(epochs=2), progress=False)
    m.eval()
    x, y = fmnist_test.images[:64], fmnist_test.targets[:64]
    return m, x, y


@pytest.mark.parametrize("norm,eps", [("linf", 0.1), ("l2", 1.5)])
def test_pgd_inside_ball_and_range(trained_tiny, norm, eps):
    m, x, y = trained_tiny
    t = Threat(norm, eps)
    xa = pgd(m, x, y, t, steps=10)
    assert xa.min() >= 0 and xa.max() <= 1
    assert (t.size(xa - x) <= eps + 1e-5).all()
    # it actually uses the budget: the typical perturbation reaches the boundary
    assert t.size(xa - x).max() >= eps * 0.99
    loss = lambda z: F.cross_entropy(m(z), y, reduction="none")  # noqa: E731
    with torch.no_grad():
        assert loss(xa).mean() > loss(x).mean() + 0.3
        assert (loss(xa) >= loss(x) - 1e-4).float().mean() > 0.95


def test_pgd_at_pixel_boundaries(trained_tiny):
    """All-black and all-white images stay in range, and saturated pixels still move inward."""
    m, x, y = trained_tiny
    xb = torch.cat([torch.zeros(4, 1, 28, 28), torch.ones(4, 1, 28, 28)])
    yb = torch.arange(8) % 10
    xa = pgd(m, xb, yb, "linf:0.1", steps=5)
    assert xa.min() >= 0 and xa.max() <= 1
    assert (xa[:4] > 0).any() and (xa[4:] < 1).any()


def test_targeted_reaches_target_with_large_budget(trained_tiny):
    m, x, y = trained_tiny
    target = (y + 1) % 10
    xa = pgd(m, x, target, Threat("l2", 8.0), steps=60, step_size=0.5, targeted=True)
    with torch.no_grad():
        assert (m(xa).argmax(1) == target).float().mean() > 0.9


def test_zero_steps_returns_start(trained_tiny):
    m, x, y = trained_tiny
    assert torch.equal(pgd(m, x, y, "linf:0.1", steps=0, random_start=False), x)
    xr = pgd(m, x, y, "linf:0.1", steps=0, random_start=True)
    assert not torch.equal(xr, x) and (xr - x).abs().max() <= 0.1 + 1e-6


def test_restarts_never_worse(trained_tiny):
    m, x, y = trained_tiny
    t = Threat("linf", 0.05)
    torch.manual_seed(1)
    one = pgd(m, x, y, t, steps=5)
    torch.manual_seed(1)
    many = pgd(m, x, y, t, steps=5, restarts=4)
    with torch.no_grad():
        fooled_one = m(one).argmax(1) != y
        fooled_many = m(many).argmax(1) != y
    assert (fooled_many | ~fooled_one).all()  # every point fooled once stays fooled
    assert fooled_many.sum() >= fooled_one.sum()


def test_no_side_effects(trained_tiny):
    m, x, y = trained_tiny
    m.train()
    m.head.weight.requires_grad_(True)
    m.body[0].weight.requires_grad_(False)
    x_copy = x.clone()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    pgd(m, x, y, "linf:0.1", steps=3)
    deepfool(m, x[:4], max_iter=3)
    assert m.training
    assert m.head.weight.requires_grad and not m.body[0].weight.requires_grad
    assert torch.equal(x, x_copy)
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
    # the engine runs CPU models channels-last for speed and hands them back in their own layout
    assert all(p.is_contiguous() for p in m.parameters())
    m.body[0].weight.requires_grad_(True)
    m.eval()


def test_channels_last_changes_speed_not_results(trained_tiny):
    from optimist.core.models import channels_last, is_channels_last

    m, x, y = trained_tiny
    with torch.no_grad():
        ref = m(x)
    with channels_last(m):
        assert is_channels_last(m)
        with torch.no_grad():
            fast = m(x)
        torch.manual_seed(3)
        a = pgd(m, x, y, "linf:0.1", steps=5)
    assert not is_channels_last(m) and all(p.is_contiguous() for p in m.parameters())
    assert torch.allclose(ref, fast, atol=1e-4)
    torch.manual_seed(3)
    b = pgd(m, x, y, "linf:0.1", steps=5)
    assert (a - b).abs().max() < 1e-3


def test_margin_loss_finds_what_cross_entropy_reports(trained_tiny):
    m, x, y = trained_tiny
    torch.manual_seed(0)
    adv = pgd(m, x, y, "linf:0.15", steps=20, loss="margin")
    assert (adv - x).abs().max() <= 0.15 + 1e-6
    with torch.no_grad():
        clean_acc = (m(x).argmax(1) == y).float().mean()
        adv_acc = (m(adv).argmax(1) == y).float().mean()
    assert adv_acc < clean_acc - 0.2
    # targeted margin PGD with a big budget reaches the requested class
    target = (y + 1) % 10
    adv_t = pgd(m, x[:16], target[:16], "linf:0.5", steps=40, loss="margin", targeted=True)
    with torch.no_grad():
        assert (m(adv_t).argmax(1) == target[:16]).float().mean() > 0.9
    with pytest.raises(ValueError, match="unknown loss"):
        pgd(m, x, y, "linf:0.1", loss="hinge")


def test_custom_objective_and_unbounded_budget(trained_tiny):
    """Feature matching with eps=inf, as representation inversion uses the engine."""
    m, x, _ = trained_tiny
    target = m.features(x[:8]).detach()

    def feature_distance(model, z, t):
        return (model.features(z) - t).norm(dim=1)

    start = torch.full_like(x[8:16], 0.5)
    out, dist = pgd(m, start, target, Threat("l2", math.inf), steps=30, step_size=0.5, random_start=False,
                    targeted=True, objective=feature_distance, return_loss=True)
    before = feature_distance(m, start, target)
    assert (dist < before).all() and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match="one loss per example"):
        pgd(m, start, target, "l2:1", objective=lambda mod, z, t: feature_distance(mod, z, t).sum())


def test_fgsm(trained_tiny):
    m, x, y = trained_tiny
    xa = fgsm(m, x, y, "linf:0.1")
    d = (xa - x).abs()
    # each pixel moves by exactly eps unless clipped at 0 or 1
    moved = (d - 0.1).abs() < 1e-6
    clipped = (xa == 0) | (xa == 1)
    assert (moved | clipped).all()
    xr = fgsm(m, x, y, "linf:0.1", step_size=0.125, random_start=True)
    assert (xr - x).abs().max() <= 0.1 + 1e-6


def test_pgd_linf_on_linear_model_flips_exactly_points_within_reach():
    """For f = w.x + b, the L-inf ball reaches the boundary iff |f(x)| < eps * ||w||_1 (away from box edges)."""
    torch.manual_seed(0)
    d = 16
    w = torch.randn(d)
    model = Linear(w, -0.5 * w.sum().item())  # boundary through the centre of the cloud
    x = 0.5 + 0.02 * torch.randn(400, 1, 4, 4)  # interior points: the box never binds
    f = x.flatten(1) @ w - 0.5 * w.sum()
    y = (f > 0).long()
    eps = 0.005
    reach = eps * w.abs().sum()
    xa = pgd(model, x, y, Threat("linf", eps), steps=20, step_size=0.01)
    with torch.no_grad():
        flipped = model(xa).argmax(1) != y
    margin_ok = (f.abs() - reach).abs() > 1e-4
    assert torch.equal(flipped[margin_ok], (f.abs() < reach)[margin_ok])
    assert 0 < flipped.sum() < len(y)


def test_deepfool_linear_closed_form():
    torch.manual_seed(0)
    w = torch.randn(1, 6, 6)
    b = 0.3
    model = Linear(w, b)
    x = 0.5 + 0.05 * torch.randn(50, 1, 6, 6)
    res = deepfool(model, x, norm="l2", overshoot=0.02, clamp=False)
    expected = (x.flatten(1) @ w.flatten() + b).abs() / w.norm()
    assert res.success.all()
    assert torch.allclose(res.norm, expected * 1.02, rtol=1e-3, atol=1e-4)
    resinf = deepfool(model, x, norm="linf", overshoot=0.02, clamp=False)
    expected_inf = (x.flatten(1) @ w.flatten() + b).abs() / w.abs().sum()
    assert torch.allclose(resinf.norm, expected_inf * 1.02, rtol=1e-3, atol=1e-4)


def test_deepfool_subspace_margin_linear():
    torch.manual_seed(0)
    d = 36
    w = torch.randn(1, 6, 6)
    model = Linear(w, -0.2)
    q, _ = torch.linalg.qr(torch.randn(d, 5))
    basis = q.T  # (5, 36) orthonormal rows
    x = 0.5 + 0.05 * torch.randn(20, 1, 6, 6)
    res = deepfool(model, x, basis=basis, overshoot=0.0, clamp=False)
    pw = basis.T @ (basis @ w.flatten())
    expected = (x.flatten(1) @ w.flatten() - 0.2).abs() / pw.norm()
    assert torch.allclose(res.norm, expected, rtol=1e-3, atol=1e-4)
    # the perturbation lies in the subspace
    resid = res.delta.flatten(1) - (res.delta.flatten(1) @ basis.T) @ basis
    assert resid.abs().max() < 1e-4


def test_deepfool_on_cnn(trained_tiny):
    m, x, y = trained_tiny
    res = deepfool(m, x[:16])
    assert res.success.float().mean() > 0.9
    assert res.x_adv.min() >= 0 and res.x_adv.max() <= 1
    assert torch.allclose(res.norm, res.delta.flatten(1).norm(dim=1))


@pytest.mark.parametrize("call", [
    lambda m, x, y: pgd(m, x * 2, y, "linf:0.1"),
    lambda m, x, y: pgd(m, x[0], y, "linf:0.1"),
    lambda m, x, y: pgd(m, x, y[:-1], "linf:0.1"),
    lambda m, x, y: pgd(m, x, y + 10, "linf:0.1"),
    lambda m, x, y: pgd(m, x, y.float(), "linf:0.1"),
    lambda m, x, y: pgd(m, x, y, Threat("linf", -1)),
    lambda m, x, y: pgd(m, x, y, "linf:nan"),
    lambda m, x, y: pgd(m, x, y, "l3:0.1"),
    lambda m, x, y: pgd(m, x, y, "l2:inf"),
    lambda m, x, y: deepfool(m, x, norm="l1"),
])
def test_bad_input_raises_value_error(trained_tiny, call):
    m, x, y = trained_tiny
    with pytest.raises(ValueError):
        call(m, x[:4], y[:4])


def test_bad_input_messages(trained_tiny):
    m, x, y = trained_tiny
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pgd(m, x * 2 - 0.5, y, "linf:0.1")
    with pytest.raises(ValueError, match="unsqueeze"):
        pgd(m, x[0], y[:1], "linf:0.1")
    with pytest.raises(ValueError, match="outside the model's 10 classes"):
        pgd(m, x, y + 10, "linf:0.1")


def test_agrees_with_torchattacks(trained_tiny):
    torchattacks = pytest.importorskip("torchattacks")
    from optimist.core.evaluate import robust_accuracy

    m, _, _ = trained_tiny
    from optimist.core.data import load_dataset

    te = load_dataset("fashion-mnist", "test")
    x, y = te.images[:500], te.targets[:500]
    for norm, eps, cls in (("linf", 0.05, torchattacks.PGD), ("l2", 1.0, torchattacks.PGDL2)):
        steps, alpha = 20, 2.5 * eps / 20
        torch.manual_seed(0)
        ta = cls(m, eps=eps, alpha=alpha, steps=steps, random_start=True)
        x_ta = ta(x, y)
        with torch.no_grad():
            theirs = (m(x_ta).argmax(1) == y).float().mean().item()
        # the same attack (fixed-step cross-entropy PGD only); the default cascade adds stages and is stronger
        ours = robust_accuracy(m, [(x, y)], Threat(norm, eps), steps=steps, losses=("ce",), targets=0,
                               schedule="fixed", square_queries=0, progress=False).robust_accuracy
        assert abs(ours - theirs) <= 0.01, (norm, ours, theirs)
        cascade = robust_accuracy(m, [(x, y)], Threat(norm, eps), steps=steps, progress=False).robust_accuracy
        assert cascade <= theirs + 0.01


def test_deepfool_takes_a_threat_for_its_norm():
    from optimist.core.attacks import Threat, deepfool

    torch.manual_seed(0)
    model = Linear(torch.randn(1, 4, 4), 0.1)
    x = torch.rand(3, 1, 4, 4)
    a = deepfool(model, x, "l2")
    b = deepfool(model, x, Threat("l2", float("inf")))
    c = deepfool(model, x, "l2:inf")
    assert torch.equal(a.norm, b.norm) and torch.equal(a.norm, c.norm)
    with pytest.raises(ValueError, match="takes no budget"):
        deepfool(model, x, "l2:0.5")
