"""The official AutoAttack (pyautoattack) through robust_accuracy(attack="autoattack")."""

import pytest
import torch

from optimist.core.data import subset
from optimist.core.evaluate import robust_accuracy

pytest.importorskip("pyautoattack")


@pytest.mark.slow  # the standard version on a converged robust model: minutes on a CPU
def test_standard_autoattack_with_breakdown(small_pair, fmnist_test):
    m = small_pair["robust"]
    data = subset(fmnist_test, 16, seed=0)
    state = torch.random.get_rng_state()
    aa = robust_accuracy(m, data, "linf:0.1", attack="autoattack", progress=False)
    assert torch.equal(torch.random.get_rng_state(), state)  # AutoAttack reseeds; we fork the RNG around it
    assert aa.settings["version"] == "standard" and aa.settings["implementation"].startswith("pyautoattack")
    names = [s["stage"] for s in aa.stages]
    assert names == ["apgd-ce", "apgd-t", "fab-t", "square"][: len(names)] and names[0] == "apgd-ce"
    # the breakdown accounts for every point AutoAttack broke
    assert aa.stages[0]["attacked"] == int(aa.clean_correct.sum())
    assert sum(s["broke"] for s in aa.stages) == int(aa.clean_correct.sum() - aa.robust_correct.sum())
    assert not (aa.robust_correct & ~aa.clean_correct).any()
    default = robust_accuracy(m, data, "linf:0.1", progress=False)
    assert aa.robust_accuracy <= default.robust_accuracy + 1 / 16
    assert aa.summary()["stages"] == aa.stages


@pytest.mark.parametrize("threat", ["linf:0.1", "l2:1.5"])
def test_custom_autoattack_subset_both_norms(small_pair, fmnist_test, threat):
    m = small_pair["robust"]
    data = subset(fmnist_test, 16, seed=1)
    aa = robust_accuracy(m, data, threat, attack="autoattack", autoattack_version="custom",
                         autoattack_attacks=["apgd-dlr", "apgd-ce"], progress=False)
    assert [s["stage"] for s in aa.stages] == ["apgd-dlr", "apgd-ce"]  # the subset, in the order given
    assert aa.settings["attacks"] == ["apgd-dlr", "apgd-ce"]
    assert aa.robust_accuracy < aa.clean_accuracy


def test_autoattack_bad_options(small_pair, fmnist_test):
    m, data = small_pair["robust"], subset(fmnist_test, 4)
    with pytest.raises(ValueError, match="unknown AutoAttack version"):
        robust_accuracy(m, data, "linf:0.1", attack="autoattack", autoattack_version="fast", progress=False)
    with pytest.raises(ValueError, match="needs autoattack_attacks"):
        robust_accuracy(m, data, "linf:0.1", attack="autoattack", autoattack_version="custom", progress=False)
    with pytest.raises(ValueError, match="custom"):
        robust_accuracy(m, data, "linf:0.1", attack="autoattack", autoattack_attacks=["apgd-ce"], progress=False)
    with pytest.raises(ValueError, match="unknown AutoAttack attack"):
        robust_accuracy(m, data, "linf:0.1", attack="autoattack", autoattack_version="custom",
                        autoattack_attacks=["cw"], progress=False)
