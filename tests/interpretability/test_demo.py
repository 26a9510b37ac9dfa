"""The demo end to end in quick mode, on the small zoo pair, through the registered entry point."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from optimist.interpretability.__main__ import main  # noqa: E402


def test_quick_demo_writes_figures_and_tables(small_zoo, tmp_path, capsys):
    assert main(["--quick", "--zoo-root", str(small_zoo), "--out", str(tmp_path)]) == 0
    figures = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
    assert figures == ["interpretability-all-methods.png", "interpretability-gradients.png",
                       "interpretability-metric-vs-epsilon.png"]
    table = pd.read_csv(tmp_path / "tables" / "interpretability-saliency-metrics.csv", index_col=[0, 1])
    assert set(table.index.get_level_values(0)) == {"standard", "L∞ 0.1"}
    assert "random" in set(table.index.get_level_values(1))
    assert (tmp_path / "index.html").is_file()
    out = capsys.readouterr().out
    assert "alignment" in out and "L∞ 0.1 minus standard" in out
