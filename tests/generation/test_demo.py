from optimist.core.demo import DemoOptions
from optimist.core.report import Report


def test_quick_demo_writes_grids_and_table(small_zoo, tmp_path, capsys):
    from optimist.generation.demo import demo

    options = DemoOptions(out_dir=tmp_path, quick=True, zoo_root=small_zoo)
    report = Report(tmp_path)
    section = report.section("Generation")
    demo(section, options)
    report.write()
    figures = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
    assert "generation-overview.png" in figures and "generation-translation.png" in figures
    tables = {p.name for p in (tmp_path / "tables").glob("*.csv")}
    assert {"generation-metrics.csv", "generation-robust-vs-standard.csv",
            "generation-without-the-confidence-floor.csv"} <= tables
    text = (tmp_path / "index.html").read_text()
    assert "quick mode" in text  # the fallback evaluator is announced
    out = capsys.readouterr().out
    assert "acc: standard" in out and "class-generation" in out and "without the confidence floor" in out
