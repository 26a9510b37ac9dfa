"""The diffusion demo's quick (smoke) version: tiny UNet, 2 sampling steps, the small test zoo."""

from optimist.core.demo import DemoOptions
from optimist.core.report import Report
from optimist.generation.diffusion.demo import DiffusionDemoSettings, demo


def test_demo_is_opt_in():
    assert demo.opt_in is True


def test_settings_from_extra(tmp_path):
    s = DiffusionDemoSettings.from_options(DemoOptions(out_dir=tmp_path, quick=True, extra={"per_class": 3}))
    assert s.unet == "tiny" and s.per_class == 3


def test_quick_demo_writes_grids_and_tables(tmp_path, small_zoo):
    report = Report(tmp_path)
    section = report.section("Diffusion guidance")
    demo(section, DemoOptions(out_dir=tmp_path, quick=True, zoo_root=small_zoo))
    figures = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
    tables = sorted(p.name for p in (tmp_path / "tables").glob("*.csv"))
    assert any("grids" in f for f in figures) and any("sweep" in f for f in figures)
    assert any("sweep" in t for t in tables) and any("robust-minus-standard" in t for t in tables)
    assert (small_zoo / "diffusion").is_dir()  # the quick DDPM and classifiers are cached in the test zoo
