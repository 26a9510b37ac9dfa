"""The application contract, checked by core's public ``check_application`` rules for every registered
application (like scikit-learn's ``parametrize_with_checks``), plus the official AutoAttack package's trained
CIFAR-10 ResNet-18 as a fourth kind of model and bad data that every application must refuse clearly."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from optimist.core.application import TABLE_COLUMNS, available_applications
from optimist.core.models import wrap
from optimist.core.specs import resolve_model
from optimist.core.testing import application_checks, reference_models
from reference_nets import autoattack_examples

APPS = available_applications()
CHECKS = [(name, rule) for name in sorted(APPS) for rule, _ in application_checks(APPS[name])]


@pytest.mark.parametrize(("name", "rule"), CHECKS, ids=[f"{n}-{r}" for n, r in CHECKS])
def test_application_contract(name, rule):
    """Each rule of the contract on its own (the same-seed rule reruns the sequential kind itself)."""
    check = dict(application_checks(APPS[name]))[rule]
    check()


@pytest.fixture(scope="module")
def cifar_tensors(tmp_path_factory):
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(64, 3, 32, 32, generator=g), torch.arange(64) % 10  # every class in any 10 consecutive
    path = tmp_path_factory.mktemp("data") / "cifar_like.pt"
    torch.save({"images": x, "labels": y}, path)
    return f"tensors:{path}"


@pytest.mark.parametrize("name", sorted(APPS))
def test_autoattack_resnet18(name, cifar_tensors):
    """The official AutoAttack package's trained ResNet-18, imported through core, beside a torchvision one."""
    _, weights = autoattack_examples()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        tv = wrap(torchvision.models.resnet18(num_classes=10), num_classes=10, in_channels=3, image_size=32)
    models = {"aa": resolve_model(f"robustbench:{weights}:resnet18"), "tv": tv}
    states = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    tv.train()
    result = APPS[name].compare(models, cifar_tensors, progress=False, seed=3, **APPS[name].tiny_settings)
    assert torch.equal(torch.get_rng_state(), states[0]) and np.array_equal(np.random.get_state()[1], states[1])
    assert random.getstate() == states[2]
    assert tv.training and not models["aa"].training
    assert list(result.table.columns[: len(TABLE_COLUMNS)]) == list(TABLE_COLUMNS)
    assert set(result.table["model"]) == {"aa", "tv"}
    assert result.table[list(TABLE_COLUMNS)].notna().all().all()


@pytest.mark.parametrize("name", sorted(APPS))
def test_application_refuses_bad_data(name):
    app = APPS[name]
    models: dict[str, nn.Module] = reference_models("sequential")
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
