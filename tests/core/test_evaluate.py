import math

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
    ce = robust_accuracy(m, data, "linf:0.1", steps=10, targets=0, square_queries=0, progress=False)
    both = robust_accuracy(m, data, "linf:0.1", steps=10, targets=0, square_queries=0, losses=("ce", "margin"),
                           progress=False)
    full = robust_accuracy(m, data, "linf:0.1", steps=10, losses=("ce", "margin"), focus=1.0, square_probe=0,
                           progress=False)
    # same seed, same first stage: later stages can only break more points
    assert not (both.robust_correct & ~ce.robust_correct).any()
    assert not (full.robust_correct & ~both.robust_correct).any()
    assert full.robust_accuracy <= both.robust_accuracy <= ce.robust_accuracy
    assert both.settings["losses"] == ["ce", "margin"] and full.settings["targets"] == 3
    # the stage record: each stage attacks exactly what the one before left standing
    names = [s["stage"] for s in full.stages]
    assert names == ["apgd-ce", "apgd-margin", "apgd-margin-targeted-1", "apgd-margin-targeted-2",
                     "apgd-margin-targeted-3", "square"]
    attacked = full.stages[0]["attacked"]
    assert attacked == int(full.clean_correct.sum())
    for a, b in zip(full.stages, full.stages[1:]):
        assert b["attacked"] == a["attacked"] - a["broke"]
    assert int(full.robust_correct.sum()) == attacked - sum(s["broke"] for s in full.stages)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        robust_accuracy(m, data, "linf:0.1", losses=("ce", "hinge"), progress=False)
    with pytest.raises(ValueError, match="at least one stage"):
        robust_accuracy(m, data, "linf:0.1", losses=(), targets=0, square_queries=0, progress=False)
    with pytest.raises(ValueError, match="target_loss"):
        robust_accuracy(m, data, "linf:0.1", target_loss="ce", progress=False)
    with pytest.raises(ValueError, match="targeted loss"):
        robust_accuracy(m, data, "linf:0.1", losses=("dlr-targeted",), progress=False)
    with pytest.raises(ValueError, match="focus"):
        robust_accuracy(m, data, "linf:0.1", focus=0, progress=False)
    # the defaults: targeted stages on the half of the survivors nearest the boundary, a gated random search
    default = robust_accuracy(m, data, "linf:0.1", progress=False)
    d = {st["stage"]: st for st in default.stages}
    ce_left = d["apgd-ce"]["attacked"] - d["apgd-ce"]["broke"]
    assert d["apgd-margin-targeted-1"]["attacked"] == math.ceil(0.5 * ce_left)
    assert d["square-continued"]["attacked"] in (0, d["square"]["attacked"] - d["square"]["broke"])
    assert (d["square-continued"]["attacked"] > 0) == (d["square"]["broke"] > 0)  # one batch here


def test_cascade_never_above_any_stage_alone(small_pair, fmnist_test):
    m = small_pair["robust"]
    data = subset(fmnist_test, 200, seed=5)
    full = robust_accuracy(m, data, "linf:0.1", progress=False)
    alone = {
        "apgd-ce": robust_accuracy(m, data, "linf:0.1", targets=0, square_queries=0, progress=False),
        "targeted x3": robust_accuracy(m, data, "linf:0.1", losses=(), square_queries=0, focus=1.0, progress=False),
        "square": robust_accuracy(m, data, "linf:0.1", losses=(), targets=0, progress=False),
        "fgsm": robust_accuracy(m, data, "linf:0.1", attack="fgsm", progress=False),
    }
    # a stage run alone on every point (focus=1.0, its own random draws) can break one point the cascade's
    # version of it (on the survivors, nearest half) did not: allow one image of the 200, never more
    for name, res in alone.items():
        assert full.robust_accuracy <= res.robust_accuracy + 1 / len(data), (name, full.robust_accuracy,
                                                                             res.robust_accuracy)
    # on a model with honest gradients the gradient stage is at least as strong as the random search alone
    # (in a fresh clone, two threads, the two tied at 56.0% on these 200 images; seen 57.0% vs 56.5%, one image,
    # with the session's small pair retrained): one image of tolerance, as above
    assert alone["apgd-ce"].robust_accuracy <= alone["square"].robust_accuracy + 1 / len(data)
    # the APGD schedule is at least as strong as fixed-step PGD with the same budget
    fixed = robust_accuracy(m, data, "linf:0.1", targets=0, square_queries=0, schedule="fixed", progress=False)
    assert alone["apgd-ce"].robust_accuracy <= fixed.robust_accuracy + 0.01


def test_global_rng_and_mode_untouched(small_pair, fmnist_test):
    m = small_pair["robust"]
    data = subset(fmnist_test, 40, seed=6)
    m.train()
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a = robust_accuracy(m, data, "linf:0.1", steps=5, progress=False)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert m.training
    m.eval()
    b = robust_accuracy(m, data, "linf:0.1", steps=5, progress=False)
    assert torch.equal(a.robust_correct, b.robust_correct)  # seeded: the same numbers every time
    assert not m.training


def test_unknown_attack(small_pair, fmnist_test):
    with pytest.raises(ValueError, match="unknown attack"):
        robust_accuracy(small_pair["robust"], subset(fmnist_test, 10), "linf:0.1", attack="cw")


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
    # the gradient-free stage breaks what PGD cannot, and the report says so
    assert "gradient attacks leave nothing to random search" in failed


def test_gradient_free_stage_breaks_masked_gradients(small_pair, fmnist_test):
    masked = _Masked(small_pair["standard"])
    data = subset(fmnist_test, 100, seed=7)
    grad_only = robust_accuracy(masked, data, "linf:0.1", square_queries=0, progress=False)
    full = robust_accuracy(masked, data, "linf:0.1", progress=False)
    sq = [st for st in full.stages if st["stage"].startswith("square")]
    assert sum(st["broke"] for st in sq) > 0.1 * sq[0]["attacked"]
    assert full.robust_accuracy < grad_only.robust_accuracy - 0.1


def test_sanity_report_flags_disagreement_with_autoattack(small_pair, fmnist_test):
    from optimist.core.evaluate import EvalResult

    m = small_pair["robust"]
    data = subset(fmnist_test, 60, seed=8)
    n = 60
    base = robust_accuracy(m, data, "linf:0.1", steps=5, progress=False)

    def aa_result(robust):  # an AutoAttack record on the same examples, as robust_accuracy returns it
        return EvalResult(base.clean_accuracy, robust.float().mean().item(), base.clean_correct, robust,
                          "linf:0.1", "autoattack", {"version": "standard"})

    agree = gradient_masking_report(m, data, "linf:0.1", n=n, steps=5, warn=False,
                                    autoattack=aa_result(base.robust_correct))
    check = {c.name: c for c in agree.checks}["agrees with AutoAttack"]
    assert check.passed and "+0.0 points" in check.detail
    # AutoAttack finding far fewer robust points than the default evaluation: flagged, loudly
    broken = torch.zeros(n, dtype=torch.bool)
    with pytest.warns(GradientMaskingWarning, match="GRADIENT MASKING SUSPECTED"):
        rep = gradient_masking_report(m, data, "linf:0.1", n=n, steps=5, autoattack=aa_result(broken))
    assert not {c.name: c for c in rep.checks}["agrees with AutoAttack"].passed
    other = EvalResult(0.5, 0.0, base.clean_correct[:30], broken[:30], "linf:0.1", "autoattack")
    with pytest.raises(ValueError, match="same 60 examples"):
        gradient_masking_report(m, data, "linf:0.1", n=n, steps=5, warn=False, autoattack=other)
