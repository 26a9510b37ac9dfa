"""Generation on a small image folder with train/ and test/ (issue 28): it runs, or refuses at once saying why.

The folder lists its images class by class; the data spec interleaves them, so the task inputs, the pixel judges'
bank and the real reference each hold every class. Data in class order that cannot give them all (a tensors pair
sorted by class) is refused before any work, with the fix.
"""

from __future__ import annotations

import time

import pytest
import torch
from PIL import Image

from optimist.core.errors import InputError
from optimist.core.models import build_model
from optimist.generation import APPLICATION, compare


def _folder(root, size: int = 16) -> str:
    """Ten classes, 12 training and 6 test PNGs each (the issue's layout), each class its own colour, noisy."""
    g = torch.Generator().manual_seed(0)
    for split, per in (("train", 12), ("test", 6)):
        for c in range(10):
            (root / split / f"c{c}").mkdir(parents=True)
            base = torch.tensor([c / 9, 1 - c / 9, (c % 3) / 2]).view(3, 1, 1)
            for i in range(per):
                x = (base + 0.15 * torch.randn(3, size, size, generator=g)).clamp(0, 1)
                Image.fromarray((x.permute(1, 2, 0) * 255).byte().numpy()).save(root / split / f"c{c}" / f"{i}.png")
    return f"imagefolder:{root}?size={size}"


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {"a": build_model("small-cnn", 10, 3, 16).eval(), "b": build_model("small-cnn", 10, 3, 16).eval()}


@pytest.mark.parametrize("n", [APPLICATION.tiny_settings["n"], 40])
def test_generation_runs_on_an_image_folder(tmp_path, models, n):
    data = _folder(tmp_path)
    result = compare(models, data, progress=False, **{**APPLICATION.tiny_settings, "n": n, "figures": False})
    knn = result.table[result.table["metric"] == "knn accuracy"]  # the pixel judge, on every task's outputs
    assert set(knn["model"]) == {"a", "b"} and knn["value"].notna().all()
    assert {"class-generation", "inpainting"} <= set(knn["task"])


def test_class_sorted_data_is_refused_before_any_work(models):
    y = torch.arange(10).repeat_interleave(6)  # 60 images, class by class: the later ones miss the first classes
    x = torch.rand(60, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"bank .* has no image of class\(es\) \[0, 1, 2\].*Fix: give more images "
                                         r"of every class, in mixed class order"):
        compare(models, (x, y), progress=False, **APPLICATION.tiny_settings)
    assert time.perf_counter() - start < 2.0
