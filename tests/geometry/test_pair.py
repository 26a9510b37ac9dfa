"""Robust versus standard on the shared small pair (conftest's ``small_pair``): the literature's direction."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from optimist.geometry import deepfool_margins, input_hessian_eigenvalue, subspace_margins


def test_robust_model_has_larger_l2_margins(small_pair, fmnist_test):
    x = fmnist_test.images[:48]
    med = {k: float(deepfool_margins(m, x, "l2").margin.median()) for k, m in small_pair.items()}
    assert med["robust"] > 1.5 * med["standard"], med


def test_robust_model_has_lower_loss_curvature(small_pair, fmnist_test):
    x = fmnist_test.images[:32]
    lam = {k: float(input_hessian_eigenvalue(m, x, iters=8).eigenvalue.median()) for k, m in small_pair.items()}
    assert lam["robust"] < 0.5 * lam["standard"], lam


def test_frequency_margins_grow_with_frequency(small_pair, fmnist_test):
    """Both networks are less sensitive to high than to low DCT frequencies (Ortiz-Jimenez et al. 2020)."""
    x = fmnist_test.images[:12]
    for m in small_pair.values():
        med = subspace_margins(m, x, stride=20).median()
        assert med[-1] > med[0], med


def test_demo_quick(small_zoo, tmp_path):
    from optimist.core.demo import DemoOptions
    from optimist.core.report import Report
    from optimist.geometry import APPLICATION

    report = Report(tmp_path, "test")
    section = report.section("Geometry")
    result = APPLICATION.demo(section, DemoOptions(out_dir=tmp_path, quick=True, zoo_root=small_zoo))
    report.write()
    figures = {p.name for p in (tmp_path / "figures").glob("*.png")}
    assert {"geometry-margin-histograms.png", "geometry-frequency-margins.png", "geometry-curvature.png",
            "geometry-universal.png"} <= figures
    table = pd.read_csv(tmp_path / "tables" / "geometry-results.csv")
    assert set(table["model"]) == {"standard", "L∞ 0.1"}
    margins = table[table["measurement"] == "median L2 margin"].set_index("model")["value"]
    assert margins.notna().all() and margins["L∞ 0.1"] > margins["standard"]
    rates = table[table["measurement"].str.contains("fooling rate")]["value"]
    assert ((rates >= 0) & (rates <= 1)).all()
    settings = json.loads((tmp_path / "settings" / "geometry.json").read_text())
    assert settings["settings"]["n_margin"] == 16 and "seconds" in settings
    assert len(result.table) == len(table)
    claims = pd.read_csv(tmp_path / "claims.csv")  # the report's first table
    margin = claims[claims["metric"] == "median L2 DeepFool margin"].iloc[0]
    assert margin["verdict"] == "✅" and margin["low"] > 0 and margin["models"] == "L∞ 0.1 vs standard"
    assert torch.is_grad_enabled()


def test_dct_block_rows_are_blocks_not_images(small_pair, fmnist_test):
    """The table's lowest/highest DCT-block medians are per block, over images (margin is (blocks, images))."""
    from optimist.geometry import compare

    x, y = fmnist_test.images[:40], fmnist_test.targets[:40]
    res = compare({"std": small_pair["standard"]}, (x, y), progress=False, n=40, n_margin=4, n_subspace=6,
                  stride=10, n_curvature=2, power_iters=2, gap_steps=2, n_universal=4, universal_passes=1,
                  bootstrap=100)
    t = res.table.set_index("measurement")["value"]
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(0))  # compare's draw for seed 0
    freq = subspace_margins(small_pair["standard"], x[perm][:6], stride=10)
    assert t["median L2 margin, highest DCT block"] == pytest.approx(float(np.median(freq.margin[-1].numpy())),
                                                                     rel=1e-5)
