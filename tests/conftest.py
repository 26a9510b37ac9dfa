"""Shared fixtures: real Fashion-MNIST subsets and the zoo's default standard/robust pair.

The pair is the one ``optimist-zoo`` ships (loaded in well under a second, nothing trained), so every package's
tests compare a real robust model with a real standard one; only the tests of training itself train.
"""

from __future__ import annotations

import os

import pytest
import torch

PAIR = {"standard": "fashion-mnist/small-cnn/standard", "robust": "fashion-mnist/small-cnn/linf-0.1"}


if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test` runs two workers on two cores: one torch thread each
    torch.set_num_threads(1)


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
    """An empty zoo cache folder (``root=`` of ``zoo.get``): the demo's models come from the shipped zoo."""
    from optimist.core import zoo

    missing = [n for n in PAIR.values() if zoo.shipped_model(n) is None]
    if missing:
        pytest.fail(f"the installed optimist-zoo does not ship {missing}; run `make setup`")
    return tmp_path_factory.mktemp("zoo")


@pytest.fixture(scope="session")
def small_pair(small_zoo):
    """{"standard": model, "robust": model}: the shipped small CNNs (standard; PGD-AT L-inf 0.1)."""
    from optimist.core import zoo

    return {k: zoo.get(v, root=small_zoo, progress=False) for k, v in PAIR.items()}
