"""End to end on the small standard/robust pair: sources, every protocol, tables, CSV, figures and the demo."""

import math

import numpy as np
import pandas as pd
import pytest

from optimist.transfer import (
    FeatureCache,
    FinetuneConfig,
    accuracy_table,
    fashion_split,
    gains,
    load_results,
    load_target,
    run_transfer,
    save_results,
    source_from_model,
)
from optimist.transfer.protocols import COLUMNS
from optimist.transfer.results import summarise


@pytest.fixture(scope="module")
def sources(small_pair):
    return [source_from_model(small_pair["standard"]), source_from_model(small_pair["robust"])]


@pytest.fixture(scope="module")
def results(sources):
    targets = [fashion_split(train_per_class=12, test_per_class=20), load_target("digits", test_per_class=10)]
    linear = run_transfer(sources, targets, protocols=("linear",), shots=(1, 5, "all"), seeds=(0, 1),
                          cache=FeatureCache(None),
                          progress=False)
    tuned = run_transfer(sources, targets[1:], protocols=("finetune-full", "finetune-last"), shots=(2,), seeds=(0,),
                         finetune_config=FinetuneConfig(steps=3, batch_size=8), progress=False)
    return pd.concat([linear, tuned], ignore_index=True)


def test_sources_read_their_cards(sources):
    std, rob = sources
    assert (std.norm, std.epsilon, std.label) == ("none", 0.0, "standard")
    assert (rob.norm, rob.epsilon, rob.label) == ("linf", 0.1, "L∞ 0.1")
    for s in sources:
        assert 0.1 < s.clean_accuracy <= 1 and set(s.robust_accuracy) == {"linf:0.1", "l2:1.5"}
    assert rob.robust_at("linf:0.1")[1] > std.robust_at("linf:0.1")[1]


def test_dataframe_has_every_column_filled(results):
    assert list(results.columns) == list(COLUMNS)
    assert not results.isna().any().any()
    assert results["accuracy"].between(0, 1).all()
    # 2 sources x (fmnist + digits) x ((1, 5) x 2 seeds + all once) + 2 sources x 2 fine-tune modes
    assert len(results) == 2 * 2 * (2 * 2 + 1) + 2 * 2
    assert set(results["protocol"]) == {"linear", "finetune-full", "finetune-last"}
    one = results[(results["shots"] == "5") & (results["target"] == "digits")]
    assert (one["n_train"] == 50).all()
    full = results[(results["shots"] == "all") & (results["target"] == "fashion-mnist-5to9")]
    assert (full["n_train"] == 60).all() and (full["accuracy"] > 0.5).all()  # far above 0.2 chance


def test_tables_and_csv_round_trip(results, tmp_path):
    s = summarise(results)
    assert {"accuracy", "ci_low", "ci_high", "seeds"} <= set(s.columns)
    row = s[(s["target"] == "digits") & (s["shots"] == "1") & (s["norm"] == "none")].iloc[0]
    assert row["seeds"] == 2 and row["ci_low"] <= row["accuracy"] <= row["ci_high"]
    g = gains(results)
    assert set(g["source"]) == {"fashion-mnist/small-cnn/linf-0.1"}
    lin = g[(g["protocol"] == "linear") & (g["shots"] == "5")].iloc[0]
    assert math.isclose(lin["gain"], lin["robust"] - lin["standard"], abs_tol=1e-12)
    table = accuracy_table(results)
    assert list(table.columns) == ["standard", "L∞ 0.1"]
    path = save_results(results, tmp_path / "r.csv")
    back = load_results(path)
    pd.testing.assert_frame_equal(back, results, check_dtype=False)


def test_figures_draw(results):
    from optimist.transfer.figures import plot_gains, plot_vs_epsilon, plot_vs_shots

    for fig in (plot_vs_epsilon(results), plot_vs_shots(results), plot_gains(results)):
        assert fig.axes and any(ax.lines for ax in fig.axes)


def test_run_transfer_validates(sources):
    t = load_target("digits", test_per_class=5)
    with pytest.raises(ValueError, match="unknown protocol"):
        run_transfer(sources, [t], protocols=("knn",), progress=False)
    with pytest.raises(ValueError, match="smallest class"):
        run_transfer(sources, [fashion_split(train_per_class=3, test_per_class=3)], shots=(5,), progress=False)


def test_quick_demo_writes_report(small_zoo, tmp_path):
    import pandas as pd

    from optimist.core.demo import DemoOptions, run_demos

    report = run_demos(["transfer"], DemoOptions(out_dir=tmp_path, quick=True, zoo_root=small_zoo))
    assert report.is_file() and "Transfer" in report.read_text()
    figures = sorted(p.name for p in (tmp_path / "figures").glob("transfer-*.png"))
    assert figures == ["transfer-accuracy-vs-shots.png", "transfer-gain-vs-shots.png"]
    table = pd.read_csv(tmp_path / "tables" / "transfer-results.csv")
    assert set(table["model"]) == {"standard", "L∞ 0.1"} and table["value"].between(0, 1).all()
    assert set(table["shots"].astype(str)) == {"1", "5"}
    gains = pd.read_csv(next((tmp_path / "tables").glob("transfer-gain-over-*.csv")))
    assert set(gains["verdict"]) <= {"better", "worse", "no clear difference"}


def test_image_folder_target_runs(tmp_path):
    """Users' own images (ImageFolder, RGB, another size) go through features, probe and fine-tuning."""
    from PIL import Image

    from optimist.core.models import build_model
    from optimist.transfer import folder_target

    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("test", 4)):
        for name, shade in (("dark", 40), ("light", 215)):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = np.clip(shade + rng.normal(0, 20, (20, 20, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(tmp_path / split / name / f"{i}.png")
    target = folder_target(tmp_path, image_size=20, name="shades")
    assert target.num_classes == 2 and len(target.train) == 12
    source = source_from_model(build_model("small-cnn", 5), name="untrained")
    cache = FeatureCache(tmp_path / "features")
    df = run_transfer([source], [target], protocols=("linear", "finetune-last"), shots=(2, "all"), seeds=(0,),
                      cache=cache,
                      finetune_config=FinetuneConfig(steps=2, batch_size=4), progress=False)
    assert len(df) == 4 and df["accuracy"].between(0, 1).all()
    assert df.loc[(df["protocol"] == "linear") & (df["shots"] == "all"), "accuracy"].item() == 1.0
    assert cache.computed == 2 and list((tmp_path / "features").rglob("shades-train-*.npz"))
