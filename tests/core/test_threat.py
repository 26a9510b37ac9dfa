import math

import pytest
import torch

from optimist.core.attacks import Threat


def test_parse_and_str():
    t = Threat.parse("linf:0.1")
    assert t == Threat("linf", 0.1) and str(t) == "linf:0.1"
    assert Threat.parse("L2:inf").unbounded


@pytest.mark.parametrize("bad", ["linf", "l1:0.1", "linf:abc"])
def test_parse_errors(bad):
    with pytest.raises(ValueError):
        Threat.parse(bad)


@pytest.mark.parametrize("eps", [-0.1, float("nan")])
def test_bad_eps(eps):
    with pytest.raises(ValueError, match="epsilon"):
        Threat("linf", eps)


def test_unknown_norm():
    with pytest.raises(ValueError, match="unknown norm"):
        Threat("l0", 1.0)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_projection_and_random_start_inside_ball(norm):
    t = Threat(norm, 0.3)
    d = torch.randn(64, 1, 8, 8) * 3
    p = t.project(d)
    assert (t.size(p) <= 0.3 + 1e-6).all()
    # points already inside are unchanged
    small = d * 1e-3
    assert torch.allclose(t.project(small), small)
    r = t.random_delta(torch.zeros(64, 1, 8, 8))
    assert (t.size(r) <= 0.3 + 1e-6).all() and (t.size(r) > 0).all()


def test_ascent_step_has_the_right_length():
    g = torch.randn(5, 3, 4, 4)
    assert torch.allclose(Threat("l2", 1).size(Threat("l2", 1).ascent(g, 0.5)), torch.full((5,), 0.5))
    assert torch.allclose(Threat("linf", 1).size(Threat("linf", 1).ascent(g, 0.5)), torch.full((5,), 0.5))


def test_default_step_size():
    assert math.isclose(Threat("linf", 0.1).default_step_size(10), 0.025)
    with pytest.raises(ValueError, match="explicit step_size"):
        Threat("l2", math.inf).default_step_size(10)
