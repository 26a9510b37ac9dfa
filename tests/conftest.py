"""Shared fixtures: real Fashion-MNIST subsets and a small standard/robust pair trained once per session.

The pair is the zoo's default pair scaled down (10,000 images, 2 epochs) and cached under a session
temporary folder, so every package's tests compare a real robust model with a real standard one.
"""

from __future__ import annotations

import os

import pytest
import torch

SMALL_TRAIN = 10000
SMALL_EPOCHS = 2
PAIR = {"standard": "fashion-mnist/small-cnn/standard", "robust": "fashion-mnist/small-cnn/linf-0.1"}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory):
    """Keep tests away from the user's cache: OPTIMIST_HOME points at a session temp folder."""
    old = os.environ.get("OPTIMIST_HOME")
    os.environ["OPTIMIST_HOME"] = str(tmp_path_factory.mktemp("optimist-home"))
    yield
    if old is None:
        os.environ.pop("OPTIMIST_HOME", None)
    else:
        os.environ["OPTIMIST_HOME"] = old


@pytest.fixture(scope="session")
def fmnist_train():
    from optimist.core.data import load_dataset

    return load_dataset("fashion-mnist", "train")


@pytest.fixture(scope="session")
def fmnist_test():
    from optimist.core.data import load_dataset

    return load_dataset("fashion-mnist", "test")


@pytest.fixture(scope="session")
def small_zoo(tmp_path_factory):
    """A zoo folder holding the default pair, trained small; pass it as ``root=`` to ``zoo.get``."""
    from optimist.core import zoo

    root = tmp_path_factory.mktemp("zoo")
    for name in PAIR.values():
        r = zoo.recipe(name).scaled(train_size=SMALL_TRAIN, epochs=SMALL_EPOCHS)
        zoo.get(name, root=root, progress=False, recipe_override=r)
    return root


@pytest.fixture(scope="session")
def small_pair(small_zoo):
    """{"standard": model, "robust": model}: small-cnn on 10,000 Fashion-MNIST images, 2 epochs each."""
    from optimist.core import zoo

    return {k: zoo.get(v, root=small_zoo, progress=False) for k, v in PAIR.items()}
