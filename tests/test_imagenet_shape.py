"""Every application on what a researcher brings (issue 28): a random-weight torchvision ResNet at 224x224 with
shared in-place ReLUs, on an image folder with train/ and test/ sub-folders (ten classes, 12 and 6 images each).

Each finishes with its tiny settings (every measurement, few steps), in batches the runner chose from the model
and the image size, not the 256 images a small CNN gets; guided backprop runs on a copy with separate ReLUs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from optimist.core.application import available_applications
from optimist.core.models import wrap

APPS = available_applications()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("imagenet-like")
    rng = np.random.default_rng(0)
    for split, per in (("train", 12), ("test", 6)):
        for c in range(10):
            (root / split / f"c{c}").mkdir(parents=True)
            for i in range(per):
                coarse = rng.uniform(0, 255, (7, 7, 3)).astype(np.uint8)
                Image.fromarray(coarse).resize((224, 224), Image.BICUBIC).save(root / split / f"c{c}" / f"{i}.png")
    return f"imagefolder:{root}"


def _resnet(seed: int) -> torch.nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return wrap(torchvision.models.resnet18(num_classes=10), num_classes=10, in_channels=3, image_size=224,
                    mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(APPS))
def test_every_application_runs_on_a_torchvision_resnet_at_224(name, folder):
    app = APPS[name]
    models = {"standard": _resnet(1), "robust": _resnet(2)}
    settings = dict(app.tiny_settings)
    if name == "interpretability":  # the method that refused torchvision's shared in-place ReLUs before
        settings["methods"] = ["gradient", "guided-backprop"]
    result = app.compare(models, folder, progress=False, seed=0, **settings)
    assert len(result.table) and result.table["value"].notna().any()
    assert 1 <= result.settings["batch_size"] < 64  # chosen from the model and the image size
    if name == "interpretability":
        notes = result.settings["guided_backprop"]
        assert set(notes) == {"standard", "robust"} and all("copy" in note for note in notes.values())
