"""Shifts on a small image folder with train/ and test/ (issue 28).

Images of one flat colour each: contrast (and blur, pixelation) leaves them exactly as they were, so the power of
the change it makes is zero and its frequency band is undefined. Sorting corruptions into bands used to stop
there with numpy's "All-NaN slice encountered"; such a corruption now gets the band "none" and the run goes on.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from PIL import Image

from optimist.core.models import build_model
from optimist.shifts import APPLICATION, compare, measure_bands
from optimist.shifts.fourier import dominant_band


def _flat_folder(root, size: int = 16) -> str:
    for split, per in (("train", 12), ("test", 6)):
        for c in range(10):
            (root / split / f"c{c}").mkdir(parents=True)
            for i in range(per):
                Image.new("RGB", (size, size), color=(25 * c, 20 * i, 128)).save(root / split / f"c{c}" / f"{i}.png")
    return f"imagefolder:{root}?size={size}"


def test_a_corruption_that_changes_nothing_has_no_band():
    assert dominant_band({"low": 0.2, "mid": 0.7, "high": 0.1}) == "mid"
    assert dominant_band({"low": np.nan, "mid": np.nan, "high": np.nan, "mean_frequency": np.nan}) == "none"
    flat = torch.full((2, 3, 8, 8), 0.5)
    assert measure_bands(flat, names=["contrast", "gaussian_noise"]).set_index("corruption").band.to_dict() == {
        "contrast": "none", "gaussian_noise": "high"}


def test_shifts_runs_on_a_folder_of_flat_images(tmp_path):
    torch.manual_seed(0)
    models = {label: build_model("small-cnn", 10, 3, 16).eval() for label in ("standard", "robust")}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no numpy "All-NaN slice" / "Mean of empty slice" either
        # but pyplot's count of figures other tests in this worker left open is not this run's business
        warnings.filterwarnings("ignore", "More than 20 figures", RuntimeWarning)
        result = compare(models, _flat_folder(tmp_path), progress=False, **APPLICATION.tiny_settings)
    t = result.table
    mean = t[(t.measurement == "accuracy (mean over severities)") & (t.model == "robust")]
    bands = mean.set_index("corruption").band
    assert bands["contrast"] == "none" and bands["gaussian_noise"] == "high"
    assert set(t[t.measurement == "clean accuracy"].model) == {"standard", "robust"}
    assert {"per-corruption accuracy", "examples"} <= set(result.figures)
    measured = next(v for k, v in result.extra_tables.items() if k.startswith("Measured frequency bands"))
    assert measured.set_index("corruption").band["contrast"] == "none"
