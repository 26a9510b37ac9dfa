"""One contract test over every registered application (like scikit-learn's check_estimator).

For each application, on its tiniest settings, with three kinds of user model: a wrapped torchvision ResNet-18 on
3x32x32 tensors, a plain nn.Sequential CNN on Fashion-MNIST, and the official AutoAttack package's trained
CIFAR-10 ResNet-18 imported through core. ``compare`` must run, fill its table, save files that reload, leave
the models as they were and the global RNG untouched, repeat itself for one seed, and refuse bad data clearly.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
import torchvision
from torch import nn

from optimist.core.application import TABLE_COLUMNS, available_applications
from optimist.core.models import wrap
from optimist.core.specs import resolve_model as resolve
from reference_nets import autoattack_examples

APPS = available_applications()


def _cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 7 * 7, 32), nn.ReLU(),
                         nn.Linear(32, 10))


@pytest.fixture(scope="module")
def cifar_tensors(tmp_path_factory):
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(64, 3, 32, 32, generator=g), torch.arange(64) % 10  # every class in any 10 consecutive
    path = tmp_path_factory.mktemp("data") / "cifar_like.pt"
    torch.save({"images": x, "labels": y}, path)
    return f"tensors:{path}"


def _models(kind: str) -> dict[str, nn.Module]:
    if kind == "torchvision-resnet18":
        torch.manual_seed(1)
        tv = torchvision.models.resnet18(num_classes=10)
        a = wrap(tv, num_classes=10, in_channels=3, image_size=32, mean=[0.5] * 3, std=[0.25] * 3)
        torch.manual_seed(2)
        b = wrap(torchvision.models.resnet18(num_classes=10), num_classes=10, in_channels=3, image_size=32)
        return {"tv-a": a, "tv-b": b}
    if kind == "sequential-cnn":
        a, b = _cnn(), _cnn()
        with torch.no_grad():
            for p in b.parameters():
                p.mul_(1.5)
        return {"cnn-a": wrap(a, num_classes=10, in_channels=1, image_size=28),
                "cnn-b": wrap(b, num_classes=10, in_channels=1, image_size=28)}
    _, weights = autoattack_examples()
    return {"aa": resolve(f"robustbench:{weights}:resnet18"),
            "tv": wrap(torchvision.models.resnet18(num_classes=10), num_classes=10, in_channels=3, image_size=32)}


def _data(kind: str, cifar_tensors: str) -> str:
    return "fashion-mnist?n=200" if kind == "sequential-cnn" else cifar_tensors


def _state(models):
    return [(m.training, [p.requires_grad for p in m.parameters()], next(m.parameters()).device,
             next(m.parameters()).dtype) for m in models.values()]


KINDS = ["torchvision-resnet18", "sequential-cnn", "autoattack-resnet18"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(APPS))
def test_application_contract(name, kind, cifar_tensors, tmp_path):
    app = APPS[name]
    models = _models(kind)
    first = next(iter(models.values()))
    first.train()  # the caller's mode and flags must survive
    next(first.parameters()).requires_grad_(False)
    before = _state(models)
    rng = torch.get_rng_state()
    data = _data(kind, cifar_tensors)
    result = app.compare(models, data, progress=False, seed=3, **app.tiny_settings)
    assert torch.equal(torch.get_rng_state(), rng), "compare touched the global RNG"
    assert _state(models) == before, "compare changed a model's mode, flags, device or dtype"
    table = result.table
    assert list(table.columns[: len(TABLE_COLUMNS)]) == list(TABLE_COLUMNS)
    assert set(table["model"]) == set(models)
    assert table[list(TABLE_COLUMNS)].notna().all().all(), table[table[list(TABLE_COLUMNS)].isna().any(axis=1)]
    assert (table["low"] <= table["value"] + 1e-9).all() and (table["value"] <= table["high"] + 1e-9).all()
    assert result.settings["settings"] and result.settings["versions"]["torch"] == torch.__version__
    if len(result.claims):  # claims name two of the models and carry an interval and a verdict
        assert {"claim", "metric", "standard", "robust", "low", "high", "verdict"} <= set(result.claims.columns)
        assert set(result.claims["verdict"]) <= {"✅", "❌", "≈"}
    result.save(tmp_path / "out")
    assert pd.read_csv(tmp_path / "out" / "table.csv").shape == table.shape
    assert json.loads((tmp_path / "out" / "settings.json").read_text())["application"] == name
    assert (tmp_path / "out" / "index.html").stat().st_size > 1000
    assert list((tmp_path / "out" / "figures").glob("*.png"))
    again = app.compare(models, data, progress=False, seed=3, **app.tiny_settings)
    pd.testing.assert_frame_equal(again.table, table)


@pytest.mark.parametrize("name", sorted(APPS))
def test_application_refuses_bad_data(name):
    app = APPS[name]
    models = _models("sequential-cnn")
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(16, 1, 28, 28, generator=g), torch.randint(0, 10, (16,), generator=g)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        app.compare(models, (x * 255, y), progress=False, **app.tiny_settings)
    with pytest.raises(ValueError, match="1-channel images but the data has 3 channels"):
        app.compare(models, (x.repeat(1, 3, 1, 1), y), progress=False, **app.tiny_settings)
    with pytest.raises(ValueError, match="28x28 images but the data is 32x32"):
        app.compare(models, (torch.rand(16, 1, 32, 32), y), progress=False, **app.tiny_settings)
    if app.labels_are_model_classes:  # a transfer target has classes of its own
        with pytest.raises(ValueError, match="labels in .*12.* 10 classes"):
            app.compare(models, (x, torch.full((16,), 12)), progress=False, **app.tiny_settings)
    with pytest.raises(ValueError, match="unknown setting.*valid keys"):
        app.compare(models, (x, y), progress=False, nonsense=3)
    with pytest.raises(ValueError, match="setting 'n' must be"):
        app.compare(models, (x, y), progress=False, n=-5)
