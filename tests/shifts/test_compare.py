"""compare on the small standard/robust pair, the settings, and the demo's figures and tables."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optimist.core.errors import SettingsError
from optimist.shifts import APPLICATION, ShiftsSettings, compare

QUICK = dict(n=40, corruptions=["gaussian_noise", "contrast", "rotate"], severities=[1, 5], heatmap_n=12,
             heatmap_stride=7, bootstrap=20, band_images=40)


@pytest.fixture(scope="module")
def result(small_pair, fmnist_test):
    small_pair["robust"].train()  # compare must hand the model back as it came
    rng_before = torch.get_rng_state()
    r = compare(small_pair, fmnist_test, progress=False, **QUICK)
    assert torch.equal(rng_before, torch.get_rng_state())
    assert small_pair["robust"].training
    small_pair["robust"].eval()
    return r


def test_table_contents(result):
    t = result.table
    acc = t[t.measurement == "accuracy"]
    assert len(acc) == 2 * 3 * 2 and set(acc.severity) == {1, 5}
    assert ((acc.value >= 0) & (acc.value <= 1)).all()
    assert set(acc.band) <= {"low", "mid", "high"}
    ce = t[(t.measurement == "CE") & (t.model == "standard")]
    assert np.allclose(ce.value, 1.0)  # the baseline's CE is 1 by definition
    mce = t[(t.model == "robust") & (t.measurement == "mCE")].iloc[0]
    assert mce.low <= mce.value <= mce.high
    d = t[(t.model == "robust") & (t.measurement == "accuracy difference vs standard") & (t.corruption == "clean")]
    c = t[t.measurement == "clean accuracy"].set_index("model").value
    assert abs(d.value.iloc[0] - (c["robust"] - c["standard"])) < 1e-9
    # severity 5 Gaussian noise hurts the standard model more than severity 1
    g = acc[(acc.model == "standard") & (acc.corruption == "gaussian_noise")].set_index("severity").value
    assert g[5] < g[1]
    pe = result.per_example
    assert set(pe.columns) >= {"model", "corruption", "severity", "image", "correct"}
    assert len(pe) == 2 * 40 * (1 + 3 * 2)
    assert {"examples", "per-corruption accuracy", "fourier heat maps"} <= set(result.figures)
    assert "helped on" in result.text


def test_bad_settings_are_clear_errors(small_pair, fmnist_test):
    with pytest.raises(SettingsError, match="must be one of"):
        ShiftsSettings.from_mapping({"corruptions": ["snow"]})
    with pytest.raises(SettingsError, match="<= 5"):
        ShiftsSettings.from_mapping({"severities": [6]})
    with pytest.raises(SettingsError, match="valid keys"):
        ShiftsSettings.from_mapping({"severity": 3})
    with pytest.raises(SettingsError, match="baseline"):
        compare(small_pair, fmnist_test, progress=False, baseline="nobody", **QUICK)


def test_demo_writes_figures_and_tables(tmp_path, small_zoo):
    from optimist.core.demo import DemoOptions, run_demos

    opts = DemoOptions(out_dir=tmp_path, quick=True, zoo_root=small_zoo,
                       extra={"corruptions": ["gaussian_noise", "fog"], "n": 24})
    report = run_demos(["shifts"], opts)
    assert report.exists() and "Shifts" in report.read_text()
    figs = sorted(p.name for p in (tmp_path / "figures").glob("shifts-*.png"))
    assert len(figs) == 3, figs
    tables = list((tmp_path / "tables").glob("shifts-*.csv"))
    assert any("results" in p.name for p in tables), [p.name for p in tables]
    assert APPLICATION.quick_settings["n"] < APPLICATION.demo_settings["n"]


def _forward_sizes(models):
    """Record how many images each forward pass of ``models`` takes (a pre-hook on each; remove them after)."""
    sizes: list[int] = []
    handles = [m.register_forward_pre_hook(lambda _m, args: sizes.append(len(args[0]))) for m in models.values()]
    return sizes, handles


def test_batch_size_bounds_every_forward_and_leaves_deterministic_rows_as_they_are(small_pair, fmnist_test):
    """A batch of 4 images: every forward pass (clean, every severity, the heat maps' perturbed copies) takes at
    most 4 images, and what no random draw touches (clean accuracy, contrast, its measured band) equals the
    numbers of a batch of 64, which holds every image in one chunk."""
    settings = dict(n=24, corruptions=["contrast", "gaussian_noise"], severities=[1, 5], heatmap_n=6,
                    heatmap_stride=7, bootstrap=20, band_images=20, cache=False)
    sizes, handles = _forward_sizes(small_pair)
    try:
        small = compare(small_pair, fmnist_test, progress=False, batch_size=4, **settings)
    finally:
        for h in handles:
            h.remove()
    assert small.settings["batch_size"] == 4 and max(sizes) <= 4
    assert len(sizes) > 2 * (24 // 4) * (1 + 2 * 2)  # clean and both corruptions' severities, chunk by chunk
    large = compare(small_pair, fmnist_test, progress=False, batch_size=64, **settings)

    def rows(result, measurement, corruption=None):
        t = result.table[result.table.measurement == measurement]
        t = t if corruption is None else t[t.corruption == corruption]
        return t.sort_values(["model", *(["severity"] if "severity" in t and t.severity.notna().any() else [])])

    for what in [("clean accuracy",), ("accuracy", "contrast"), ("accuracy (mean over severities)", "contrast")]:
        a, b = rows(small, *what), rows(large, *what)
        assert len(a) and np.allclose(a.value, b.value, atol=1e-12), what
    bands = {r.settings["batch_size"]: r.extra_tables[next(k for k in r.extra_tables if k.startswith("Measured"))]
             for r in (small, large)}
    contrast = [b.set_index("corruption").loc["contrast"] for b in bands.values()]
    assert contrast[0]["band"] == contrast[1]["band"]
    assert np.allclose(contrast[0][["low", "mid", "high"]].astype(float),
                       contrast[1][["low", "mid", "high"]].astype(float), atol=1e-4)  # the table rounds to 1e-4
