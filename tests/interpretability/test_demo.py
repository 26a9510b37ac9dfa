"""The demo end to end in quick mode, on the small zoo pair, through the registered application."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from optimist.core.demo import DemoOptions, run_demos  # noqa: E402


def test_quick_demo_writes_figures_and_tables(small_zoo, tmp_path):
    run_demos(["interpretability"], DemoOptions(out_dir=tmp_path, quick=True, zoo_root=small_zoo,
                                                extra={"n": 8}), )
    figures = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
    assert figures == ["interpretability-all-methods.png", "interpretability-gradients.png",
                       "interpretability-metric-vs-epsilon.png"]
    table = pd.read_csv(tmp_path / "tables" / "interpretability-results.csv")
    assert set(table["model"]) >= {"standard", "L∞ 0.1"}
    assert "random" in set(table["method"].dropna())
    page = (tmp_path / "index.html").read_text()
    assert "Smoke run (--quick)" in page and "not results" in page  # a quick report says so on its first screen
    assert "Made " in page and "commit" in page  # and how it was made
    diffs = pd.read_csv(next((tmp_path / "tables").glob("interpretability-paired-differences*.csv")))
    assert {"difference", "ci_low", "ci_high", "better"} <= set(diffs.columns)
