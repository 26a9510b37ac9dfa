"""Fixtures for the generation tests: a tiny independent evaluator and a fixed, class-balanced input batch."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_evaluator(fmnist_train):
    """An MLP (not the generators' small-cnn) trained 1 epoch on 3,000 images, seed 7: the independent judge."""
    from optimist.generation import train_evaluator

    return train_evaluator(fmnist_train, arch="mlp", n=3000, epochs=1, seed=7)


@pytest.fixture(scope="session")
def inputs(fmnist_test):
    """20 test images, two per class, classes interleaved."""
    from optimist.generation.showcase import balanced_inputs

    idx = balanced_inputs(fmnist_test.images[:5000], fmnist_test.targets[:5000], 20, seed=0)
    return fmnist_test.images[idx], fmnist_test.targets[idx]


@pytest.fixture()
def toy_model():
    """An untrained small-cnn: enough to check ranges, budgets and errors without the trained pair."""
    from optimist.core.models import build_model

    torch.manual_seed(0)
    return build_model("small-cnn", 10, 1, 28).eval()
