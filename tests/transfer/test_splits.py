"""Split helpers: disjoint source/target classes, balanced caps, exact and reproducible k-shot samples."""

import numpy as np
import pytest

from optimist.core import zoo
from optimist.core.data.datasets import FASHION_MNIST_CLASSES
from optimist.transfer import fashion_split, k_shot_indices, load_target
from optimist.transfer.protocols import parse_shots
from optimist.transfer.sources import DEFAULT_SOURCES, L2_SOURCES
from optimist.transfer.splits import SOURCE_CLASSES, TARGET_CLASSES, check_disjoint


def test_source_and_target_classes_are_disjoint():
    check_disjoint(SOURCE_CLASSES, TARGET_CLASSES)
    # The zoo's transfer sources really are trained on the complement of the target classes.
    for name in DEFAULT_SOURCES + L2_SOURCES:
        classes = set(zoo.recipe(name).classes)
        assert classes == set(SOURCE_CLASSES) and not classes & set(TARGET_CLASSES)
    with pytest.raises(ValueError, match=r"share classes \[4\]"):
        check_disjoint([0, 1, 4], [4, 5])
    with pytest.raises(ValueError, match="non-empty"):
        check_disjoint([], [5])
    with pytest.raises(ValueError, match="share"):
        fashion_split(source_classes=(0, 1, 5), target_classes=(5, 6))


def test_fashion_split_relabels_and_caps():
    t = fashion_split(train_per_class=20, test_per_class=10)
    assert t.name == "fashion-mnist-5to9" and t.num_classes == 5
    assert t.train.info.class_names == tuple(FASHION_MNIST_CLASSES[c] for c in TARGET_CLASSES)
    assert np.bincount(t.train.targets.numpy()).tolist() == [20] * 5
    assert np.bincount(t.test.targets.numpy()).tolist() == [10] * 5
    full = load_target("fashion-mnist-5to9")
    assert len(full.train) == 30000 and len(full.test) == 5000
    with pytest.raises(ValueError, match="shipped targets"):
        load_target("imagenet")


def test_digits_target_is_28x28():
    t = load_target("digits")
    assert t.train.images.shape[1:] == (1, 28, 28) and t.num_classes == 10
    assert len(t.train) + len(t.test) == 1797


def test_k_shot_exactly_k_per_class_and_reproducible():
    labels = np.repeat(np.arange(4), [7, 9, 12, 5])
    for k in (1, 3, 5):
        idx = k_shot_indices(labels, k, seed=3)
        assert np.bincount(labels[idx], minlength=4).tolist() == [k] * 4
        assert len(set(idx.tolist())) == 4 * k
        np.testing.assert_array_equal(idx, k_shot_indices(labels, k, seed=3))
    assert not np.array_equal(k_shot_indices(labels, 3, seed=0), k_shot_indices(labels, 3, seed=1))
    with pytest.raises(ValueError, match="fewer than k=6"):
        k_shot_indices(labels, 6)
    with pytest.raises(ValueError, match="positive integer"):
        k_shot_indices(labels, 0)


def test_parse_shots_orders_and_validates():
    assert parse_shots(["all", 10, 1, 5, 5]) == [1, 5, 10, "all"]
    for bad in ([0], [-1], ["some"], [2.5], []):
        with pytest.raises(ValueError):
            parse_shots(bad)
