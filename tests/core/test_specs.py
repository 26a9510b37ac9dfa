"""wrap() on any classifier; every model and data spec kind resolves; bad specs say what is valid."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from optimist.core.checkpoints import load_model, save_model
from optimist.core.data import load_dataset
from optimist.core.errors import DataSpecError, ImageDTypeError, ImageRangeError, LabelError, ModelSpecError, WrapError
from optimist.core.models import require_classifier, wrap
from optimist.core.specs import resolve_data
from optimist.core.specs import resolve_model as resolve


def small_cnn() -> nn.Module:
    """A plain nn.Sequential CNN for 1x28x28 images (also a ``python:`` factory for the spec test)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(8 * 14 * 14, 32), nn.ReLU(), nn.Linear(32, 10))


def _penultimate(module: nn.Module, head: nn.Module, x: torch.Tensor) -> torch.Tensor:
    seen = []
    h = head.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    module(x)
    h.remove()
    return seen[0]


@pytest.mark.parametrize("case", ["resnet18", "sequential", "mobilenet_v2"])
def test_wrap_features_are_the_penultimate_vectors_and_save_load(tmp_path, case):
    if case == "resnet18":
        module, c, s, head, source = torchvision.models.resnet18(num_classes=10), 3, 32, "fc", "torchvision:resnet18"
    elif case == "sequential":
        module, c, s, head, source = small_cnn(), 1, 28, "6", None
    else:
        module, c, s, head, source = torchvision.models.mobilenet_v2(num_classes=10), 3, 32, "classifier.1", None
    module.eval()
    mean, std = [0.4] * c, [0.25] * c
    model = wrap(module, num_classes=10, in_channels=c, image_size=s, mean=mean, std=std, source=source)
    assert model.head_name == head
    x = torch.rand(4, c, s, s)
    with torch.no_grad():
        f = model.features(x)
        z = (x - 0.4) / 0.25
        assert f.ndim == 2 and torch.allclose(f, _penultimate(module, module.get_submodule(head), z))
        assert torch.allclose(model.head(f), model(x), atol=1e-6)
        assert torch.allclose(model(x), module(z), atol=1e-6)
    save_model(tmp_path / case, model)
    rebuilt = None if source else (small_cnn() if case == "sequential" else torchvision.models.mobilenet_v2(
        num_classes=10))
    loaded = load_model(tmp_path / case, module=rebuilt)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_wrap_errors_say_how_to_fix():
    with pytest.raises(WrapError, match="feature_layer"):
        wrap(nn.Sequential(nn.Conv2d(1, 10, 28), nn.Flatten()), num_classes=10, in_channels=1, image_size=28)
    with pytest.raises(WrapError, match="not a module"):
        wrap(small_cnn(), num_classes=10, in_channels=1, image_size=28, feature_layer="fc")
    with pytest.raises(WrapError, match="check num_classes"):
        wrap(small_cnn(), num_classes=5, in_channels=1, image_size=28)
    with pytest.raises(WrapError, match="cannot take 3x28x28"):
        wrap(small_cnn(), num_classes=10, in_channels=3, image_size=28)
    # mobilenet_v2 has a `.features` attribute (its conv trunk) but is not an Optimist classifier
    with pytest.raises(WrapError, match="wrap"):
        require_classifier(torchvision.models.mobilenet_v2(num_classes=10), "extract_features")


def test_every_model_spec_kind_resolves(tmp_path, small_zoo, monkeypatch):
    # zoo (bare and prefixed), from a zoo folder holding the small default pair
    home = tmp_path / "home"
    shutil.copytree(small_zoo, home / "zoo")
    monkeypatch.setenv("OPTIMIST_HOME", str(home))
    for spec in ("zoo:fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/standard"):
        assert resolve(spec).spec == spec
    # an Optimist checkpoint folder and its .safetensors file
    m = resolve("zoo:fashion-mnist/small-cnn/standard")
    save_model(tmp_path / "ckpt", m)
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(resolve(str(tmp_path / "ckpt"))(x), m(x))
        assert torch.equal(resolve(str(tmp_path / "ckpt" / "model.safetensors"))(x), m(x))
    # torchvision with a local weights file (never downloads), python factory with weights
    tv = torchvision.models.resnet18(num_classes=7)
    torch.save(tv.state_dict(), tmp_path / "r18.pth")
    got = resolve(f"torchvision:resnet18:{tmp_path / 'r18.pth'}?image_size=32")
    assert got.num_classes == 7 and got.image_size == 32
    tv.eval()
    with torch.no_grad():
        xi = torch.rand(2, 3, 32, 32)
        norm = (xi - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
            [0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        assert torch.allclose(got(xi), tv(norm), atol=1e-5)
    net = small_cnn()
    torch.save(net.state_dict(), tmp_path / "cnn.pt")
    py = resolve(f"python:{__name__}:small_cnn:{tmp_path / 'cnn.pt'}?image_size=28&mean=0.5&std=0.5")
    assert py.in_channels == 1 and py.num_classes == 10
    with torch.no_grad():
        assert torch.allclose(py(x), net.eval()((x - 0.5) / 0.5), atol=1e-6)


@pytest.mark.parametrize("spec,match", [
    ("kaggle:foo", "unknown model spec kind 'kaggle'.*zoo:NAME"),
    ("not/a/zoo/model", "neither an existing checkpoint path nor a zoo name"),
    ("zoo:nope", "unknown zoo model"),
    ("robustbench:/no/such/file.pt", "no checkpoint file"),
    ("torchvision:resnet999", "torchvision has no model"),
    ("python:no_such_module:f", "cannot import"),
    ("fashion-mnist/small-cnn/standard?colour=1", "unknown model spec option"),
])
def test_bad_model_specs(spec, match):
    with pytest.raises((ModelSpecError, ValueError), match=match):
        resolve(spec)


def test_every_data_spec_kind_resolves(tmp_path):
    from PIL import Image

    fm = resolve_data("fashion-mnist?n=50")
    assert len(fm) == 50 and fm.images.shape[1:] == (1, 28, 28)
    assert resolve_data("digits?size=28").images.shape[-1] == 28
    assert resolve_data("fashion-mnist?n=4&size=32&mode=rgb").images.shape == (4, 3, 32, 32)
    x, y = torch.rand(6, 3, 32, 32), torch.tensor([0, 1, 2, 3, 4, 5])
    torch.save({"images": x, "labels": y}, tmp_path / "b.pt")
    np.savez(tmp_path / "b.npz", images=x.numpy(), labels=y.numpy())
    for spec in (f"tensors:{tmp_path / 'b.pt'}", f"tensors:{tmp_path / 'b.npz'}"):
        ds = resolve_data(spec)
        assert torch.equal(ds.images, x) and torch.equal(ds.targets, y)
    assert torch.equal(resolve_data((x, y)).images, x)
    for c in ("cat", "dog"):
        (tmp_path / "folder" / c).mkdir(parents=True)
        for i in range(2):
            Image.fromarray((np.random.default_rng(i).random((40, 40, 3)) * 255).astype("uint8")).save(
                tmp_path / "folder" / c / f"{i}.png")
    ds = resolve_data(f"imagefolder:{tmp_path / 'folder'}?size=32&mode=grey")
    assert ds.images.shape == (4, 1, 32, 32) and ds.info.class_names == ("cat", "dog")


def test_bad_data_specs(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=str(empty)):
        load_dataset("fashion-mnist", root=empty)  # explicit root: no silent fallback to the Debian copy
    with pytest.raises(FileNotFoundError, match=str(empty)):
        resolve_data(f"fashion-mnist:{empty}")
    with pytest.raises(DataSpecError, match="unknown data spec.*kinds: fashion-mnist"):
        resolve_data("imagenet")
    torch.save({"images": torch.rand(3, 1, 8, 8) * 255, "labels": torch.tensor([0, 1, 2])}, tmp_path / "x.pt")
    with pytest.raises(ImageRangeError, match=r"\[0, 1\]"):
        resolve_data(f"tensors:{tmp_path / 'x.pt'}")
    with pytest.raises(ImageDTypeError, match="uint8"):
        resolve_data((torch.zeros(2, 1, 8, 8, dtype=torch.uint8), torch.tensor([0, 1])))
    with pytest.raises(LabelError, match="3 labels"):
        resolve_data((torch.rand(2, 1, 8, 8), torch.tensor([0, 1, 2])))
    with pytest.raises(DataSpecError, match="no file"):
        resolve_data("tensors:/no/such.pt")
    with pytest.raises(DataSpecError, match="unknown data spec option"):
        resolve_data("fashion-mnist?colour=1")


def test_proportion_interval_stays_in_the_unit_interval():
    from optimist.core.stats import proportion_interval, t_interval

    v = [0.0] * 15 + [1.0]
    p, lo, hi = proportion_interval(v)
    assert p == 1 / 16 and 0 <= lo < p < hi <= 1
    assert t_interval(v)[1] < 0  # the t interval leaves [0, 1] on the same data
    assert proportion_interval([1.0] * 8)[1:] == (proportion_interval([1.0] * 8)[1], 1.0)
    with pytest.raises(ValueError, match="0/1"):
        proportion_interval([0.5, 1.0])


def test_welch_interval_matches_scipy_and_handles_small_groups():
    from scipy import stats

    from optimist.core.stats import welch_interval

    a, b = [0.61, 0.64, 0.58, 0.66], [0.55, 0.49, 0.57]
    d, lo, hi = welch_interval(a, b)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval()
    assert d == pytest.approx(sum(a) / 4 - sum(b) / 3) and (lo, hi) == pytest.approx((ci.low, ci.high))
    assert all(map(math.isnan, welch_interval([0.5], b)[1:]))
    assert welch_interval([0.5, float("nan"), 0.7], [0.5, 0.5])[0] == pytest.approx(0.1)


def test_imagefolder_interleaves_the_classes(tmp_path):
    """The folders list the images class by class; the spec gives them round-robin, so any prefix has every class."""
    from PIL import Image

    for c, count in (("a", 3), ("b", 2), ("c", 3)):
        (tmp_path / "test" / c).mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (8, 8), color=(10 * i, 0, 0)).save(tmp_path / "test" / c / f"{i}.png")
    ds = resolve_data(f"imagefolder:{tmp_path}?size=8")
    assert ds.targets.tolist() == [0, 1, 2, 0, 1, 2, 0, 2]
    assert ds.images[:, 0, 0, 0].mul(255).round().tolist() == [0, 0, 0, 10, 10, 10, 20, 20]  # each class in order
    assert resolve_data(f"imagefolder:{tmp_path}?size=8&n=3").targets.tolist() == [0, 1, 2]
