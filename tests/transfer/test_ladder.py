"""The transfer ladder: zoo seed variants, settings errors, and one small end-to-end run whose intervals are
recomputed here from its per-draw rows with scipy (an independent implementation of Welch's interval)."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from optimist.core import zoo
from optimist.core.errors import SettingsError
from optimist.transfer import LadderSettings, transfer_ladder
from optimist.transfer.ladder import source_names

SMALL = {"epsilons": [1.0], "source_seeds": 2, "shots": [1, 3], "draws": 2, "test_per_class": 12,
         "source_train_size": 600}


def test_seed_variants_are_recipes_with_that_seed():
    r = zoo.recipe("transfer-fashion-mnist/wide-cnn/l2-0.5-seed2")
    base = zoo.recipe("transfer-fashion-mnist/wide-cnn/l2-0.5")
    assert r.config.seed == 2 and base.config.seed == 0
    assert r.config.with_(seed=0) == base.config and r.arch == "wide-cnn" and r.classes is None
    assert zoo.known("fashion-mnist/small-cnn/standard-seed11")
    assert not zoo.known("fashion-mnist/small-cnn/nothing-seed1")
    assert zoo.with_seed("fashion-mnist/small-cnn/standard", 0) == "fashion-mnist/small-cnn/standard"
    assert zoo.with_seed("fashion-mnist/small-cnn/standard", 4) == "fashion-mnist/small-cnn/standard-seed4"
    with pytest.raises(ValueError, match="-seedK"):
        zoo.recipe("fashion-mnist/small-cnn/nothing-seed1")


def test_source_names_cover_the_ladder_and_the_seeds():
    names = source_names(LadderSettings.from_mapping({"source_classes": "0to4", "arch": "small-cnn"}))
    assert list(names) == [0.0, 0.25, 0.5, 1.0, 2.0]
    for eps, group in names.items():
        assert len(group) == 3
        for k, name in enumerate(group):
            r = zoo.recipe(name)
            assert r.config.seed == k and r.arch == "small-cnn" and r.classes == (0, 1, 2, 3, 4)
            assert (r.config.threat is None) == (eps == 0)
            if eps:
                assert r.config.threat == f"l2:{eps:g}"


@pytest.mark.parametrize("settings, match", [
    ({"epsilons": [0.3]}, "transfer ladder; choose from"),
    ({"target": "fashion-mnist-5to9"}, "source_classes=0to4"),
    ({"arch": "lenet"}, "must be one of"),
    ({"shots": [0]}, "shots"),
    ({"seeds": 3}, "unknown"),
])
def test_bad_settings_say_what_to_change(settings, match):
    with pytest.raises(SettingsError, match=match):
        LadderSettings.from_mapping(settings)


def test_smoke_sizes_need_their_own_zoo():
    with pytest.raises(SettingsError, match="zoo_root"):
        transfer_ladder(progress=False, **SMALL)


@pytest.fixture(scope="module")
def ladder(tmp_path_factory):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("ladder-zoo")
    try:
        state = torch.get_rng_state()
        result = transfer_ladder(progress=False, zoo_root=root, **SMALL)
        assert torch.equal(state, torch.get_rng_state()), "the global RNG moved"
        again = transfer_ladder(progress=False, zoo_root=root, **SMALL)  # sources now come from the cache
    finally:
        torch.set_num_threads(before)
    return result, again


def test_table_is_over_source_seeds(ladder):
    result, _ = ladder
    df = result.per_example
    assert sorted(df["source_seed"].unique()) == [0, 1] and sorted(df["epsilon"].unique()) == [0.0, 1.0]
    assert len(df) == 2 * 2 * 2 * 2  # budgets x seeds x shots x draws
    for _, row in result.table.iterrows():
        g = df[(df["epsilon"] == row["epsilon"]) & (df["shots"] == row["shots"])]
        per_seed = g.groupby("source_seed")["accuracy"].mean().to_numpy()
        assert row["n"] == 2 and row["value"] == pytest.approx(per_seed.mean())
        half = stats.t.ppf(0.975, 1) * per_seed.std(ddof=1) / math.sqrt(2)
        assert row["high"] - row["value"] == pytest.approx(half, abs=1e-9)


def test_gains_use_welch_between_seed_groups(ladder):
    result, _ = ladder
    df = result.per_example
    gains = result.extra_tables["Gain over the standard sources"]
    assert list(gains["shots"]) == ["1", "3"]
    for _, g in gains.iterrows():
        sel = df[df["shots"] == g["shots"]]
        a, b = (sel[sel["epsilon"] == e].groupby("source_seed")["accuracy"].mean().to_numpy() for e in (1.0, 0.0))
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval()
        assert g["gain"] == pytest.approx(a.mean() - b.mean())
        if np.isfinite(ci.low):
            assert (g["ci_low"], g["ci_high"]) == pytest.approx((ci.low, ci.high))
    claims = result.claims
    assert len(claims) == 2 and set(claims["models"]) == {"L2 1 vs standard"}
    assert claims["difference"].tolist() == pytest.approx(gains["gain"].tolist())


def test_sources_are_real_and_different_per_seed(ladder):
    result, _ = ladder
    src = result.extra_tables["Sources"]
    assert list(src["source"]) == ["standard", "L2 1"] and (src["seeds"] == 2).all()
    assert (src["clean accuracy"] > 0.3).all(), "600 images of Fashion-MNIST should train past chance"
    df = result.per_example
    one = df[(df["epsilon"] == 0) & (df["shots"] == "3")].pivot(index="seed", columns="source_seed",
                                                                values="accuracy")
    assert not np.allclose(one[0], one[1]), "two training seeds gave identical probes: the seed is not used"


def test_ladder_is_deterministic_and_saves(ladder, tmp_path):
    result, again = ladder
    assert result.table[["value", "low", "high"]].equals(again.table[["value", "low", "high"]])
    index = result.save(tmp_path / "out")
    assert index.is_file() and (tmp_path / "out" / "table.csv").is_file()
    assert {"ladder-accuracy", "ladder-sources"} <= set(result.figures)
    assert result.settings["settings"]["source_seeds"] == 2 and len(result.settings["models"]) == 4
