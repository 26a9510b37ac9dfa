"""The logistic-regression probe: perfect on linearly separable features, C from CV on training data only."""

import numpy as np
import pytest

from optimist.transfer import fit_probe, probe_accuracy
from optimist.transfer.probe import DEFAULT_C, DEFAULT_CS, chosen_C


def _separable(n_per_class, seed, classes=4, dim=20, noise=1.0):
    rng = np.random.default_rng(seed)
    centres = np.eye(classes, dim) * 6.0
    y = np.repeat(np.arange(classes), n_per_class)
    return centres[y] + noise * rng.normal(size=(len(y), dim)), y


def test_probe_on_linearly_separable_toy_is_near_perfect():
    x, y = _separable(50, 0)
    x_te, y_te = _separable(200, 1)
    pipe = fit_probe(x, y, seed=0)
    assert probe_accuracy(pipe, x_te, y_te) >= 0.99
    assert chosen_C(pipe) in DEFAULT_CS
    assert pipe.named_steps["scale"].n_samples_seen_ == len(y)  # scaler fitted on training rows only


def test_probe_without_cv_for_one_shot():
    # No pure-noise dimensions: standardising 4 points would blow those up to the signal's scale.
    x, y = _separable(1, 0, dim=4, noise=0.5)
    pipe = fit_probe(x, y)
    assert chosen_C(pipe) == DEFAULT_C
    x_te, y_te = _separable(100, 2, dim=4, noise=0.5)
    assert probe_accuracy(pipe, x_te, y_te) > 0.9


def test_probe_rejects_bad_input():
    x, y = _separable(5, 0)
    with pytest.raises(ValueError, match="two classes"):
        fit_probe(x, np.zeros(len(x), dtype=int))
    with pytest.raises(ValueError, match="one label per row"):
        fit_probe(x, y[:-1])
    with pytest.raises(ValueError, match="2-D"):
        fit_probe(x[:, 0], y)
    with pytest.raises(ValueError, match="folds"):
        fit_probe(x, y, folds=1)
