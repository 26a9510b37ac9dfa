import pytest
import torch

from optimist.core.data import subset
from optimist.core.evaluate import robust_accuracy
from optimist.core.sanity import GradientMaskingWarning, gradient_masking_report


def test_cascade_and_outcomes(small_pair, fmnist_test):
    m = small_pair["robust"]
    data = subset(fmnist_test, 300, seed=0)
    res = robust_accuracy(m, data, "linf:0.1", steps=10, progress=False)
    assert res.n == 300
    assert res.robust_accuracy <= res.clean_accuracy
    # a point wrong on clean data is never counted robust
    assert not (res.robust_correct & ~res.clean_correct).any()
    assert 0.3 < res.robust_accuracy < res.clean_accuracy
    eps0 = robust_accuracy(m, data, "linf:0", progress=False)
    assert eps0.robust_accuracy == eps0.clean_accuracy == res.clean_accuracy


def test_more_steps_and_restarts_never_help_the_model(small_pair, fmnist_test):
    m = small_pair["robust"]
    data = subset(fmnist_test, 200, seed=2)
    weak = robust_accuracy(m, data, "linf:0.1", attack="fgsm", progress=False).robust_accuracy
    strong = robust_accuracy(m, data, "linf:0.1", steps=20, restarts=2, progress=False).robust_accuracy
    assert strong <= weak


def test_each_cascade_stage_only_removes_survivors(small_pair, fmnist_test):
    m = small_pair["robust"]
    data = subset(fmnist_test, 200, seed=4)
    ce = robust_accuracy(m, data, "linf:0.1", steps=10, losses=("ce",), progress=False)
    both = robust_accuracy(m, data, "linf:0.1", steps=10, progress=False)
    targeted = robust_accuracy(m, data, "linf:0.1", steps=10, targets=2, progress=False)
    # same seed, same first stage: later stages can only break more points
    assert not (both.robust_correct & ~ce.robust_correct).any()
    assert not (targeted.robust_correct & ~both.robust_correct).any()
    assert targeted.robust_accuracy <= both.robust_accuracy <= ce.robust_accuracy
    assert both.settings["losses"] == ["ce", "margin"] and targeted.settings["targets"] == 2
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        robust_accuracy(m, data, "linf:0.1", losses=("ce", "hinge"), progress=False)
    with pytest.raises(ValueError, match="at least one stage"):
        robust_accuracy(m, data, "linf:0.1", losses=(), progress=False)


def test_unknown_attack(small_pair, fmnist_test):
    with pytest.raises(ValueError, match="unknown attack"):
        robust_accuracy(small_pair["robust"], subset(fmnist_test, 10), "linf:0.1", attack="cw")


def test_autoattack_option(small_pair, fmnist_test):
    pytest.importorskip("torchattacks")
    m = small_pair["robust"]
    data = subset(fmnist_test, 24, seed=0)
    aa = robust_accuracy(m, data, "linf:0.1", attack="autoattack", progress=False)
    pgd = robust_accuracy(m, data, "linf:0.1", steps=20, progress=False)
    assert aa.robust_accuracy <= pgd.robust_accuracy + 1 / 24
    assert aa.settings["version"] == "standard"


def test_sanity_report_passes_for_a_real_model(small_pair, fmnist_test):
    rep = gradient_masking_report(small_pair["robust"], subset(fmnist_test, 200), "linf:0.1", n=200, steps=10,
                                  warn=False)
    assert rep.passed, str(rep)
    assert list(rep.curve) == sorted(rep.curve)


class _Masked(torch.nn.Module):
    """A model whose gradients are zero (quantised input): PGD is blind, random noise is not."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.num_classes = inner.num_classes

    def forward(self, x):
        xq = x * 0 + (torch.round(x * 4) / 4).detach()  # quantised value, zero gradient everywhere
        return self.inner(xq)


def test_sanity_report_flags_masked_gradients(small_pair, fmnist_test):
    masked = _Masked(small_pair["standard"])
    with pytest.warns(GradientMaskingWarning, match="GRADIENT MASKING SUSPECTED"):
        rep = gradient_masking_report(masked, subset(fmnist_test, 100), "linf:0.1", n=100, steps=5)
    failed = {c.name for c in rep.checks if not c.passed}
    assert "unbounded attack reaches ~0%" in failed
