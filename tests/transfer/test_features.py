"""Feature extraction: shapes, input adaptation, and a cache that never recomputes what it has."""

import numpy as np
import pytest
import torch

from optimist.core.data import DatasetInfo, ImageTensorDataset
from optimist.core.models import build_model
from optimist.transfer import FeatureCache, extract_features
from optimist.transfer.features import default_cache, match_input, model_fingerprint


def _toy(n=40, channels=1, size=28, seed=0):
    g = torch.Generator().manual_seed(seed)
    info = DatasetInfo("toy", ("a", "b"), channels, size, (0.5,) * channels, (0.5,) * channels)
    return ImageTensorDataset(torch.rand(n, channels, size, size, generator=g), torch.arange(n) % 2, info)


def _counting(model):
    calls = {"n": 0}
    original = model.features

    def features(x):
        calls["n"] += 1
        return original(x)

    model.features = features
    return calls


def test_shapes_and_labels():
    model = build_model("small-cnn", 5)
    ds = _toy(37)
    feats, labels = extract_features(model, ds, cache=False, batch_size=16)
    assert feats.shape == (37, 128) and feats.dtype == np.float32
    np.testing.assert_array_equal(labels, ds.targets.numpy())
    with torch.no_grad():
        np.testing.assert_allclose(feats, model.features(ds.images).numpy(), atol=1e-5)


def test_second_call_does_not_recompute(tmp_path):
    model = build_model("small-cnn", 5)
    calls = _counting(model)
    ds = _toy(50)
    cache = FeatureCache(tmp_path)
    first = extract_features(model, ds, cache=cache, label="toy-train", batch_size=20)
    assert calls["n"] == 3 and cache.computed == 1
    second = extract_features(model, ds, cache=cache, label="toy-train", batch_size=20)
    assert calls["n"] == 3 and cache.computed == 1 and cache.hits == 1  # memory hit
    np.testing.assert_array_equal(first[0], second[0])
    files = list(tmp_path.rglob("*.npz"))
    assert len(files) == 1 and files[0].name.startswith("toy-train-")
    # A fresh process (new cache object, same folder) reads the disk copy: no forward pass at all.
    model.features = lambda x: pytest.fail("features recomputed despite a disk cache")
    third = extract_features(model, ds, cache=FeatureCache(tmp_path), label="toy-train")
    np.testing.assert_array_equal(first[0], third[0])


def test_cache_key_follows_weights_and_data(tmp_path):
    model = build_model("small-cnn", 5)
    calls = _counting(model)
    cache = FeatureCache(tmp_path)
    extract_features(model, _toy(10), cache=cache)
    extract_features(model, _toy(10, seed=1), cache=cache)  # other images
    assert cache.computed == 2
    before = model_fingerprint(model)
    with torch.no_grad():
        model.head.weight.add_(1.0)  # other weights: another checkpoint
    assert model_fingerprint(model) != before
    extract_features(model, _toy(10), cache=cache)
    assert cache.computed == 3 and calls["n"] == 3
    # An equal copy of the weights is the same checkpoint.
    twin = build_model("small-cnn", 5)
    twin.load_state_dict(model.state_dict())
    assert model_fingerprint(twin) == model_fingerprint(model)


def test_default_cache_lives_under_optimist_home(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTIMIST_HOME", str(tmp_path))
    assert default_cache().root == tmp_path / "features"


def test_match_input_adapts_channels_and_size():
    model = build_model("small-cnn", 5)
    x = torch.rand(2, 3, 32, 32)
    y = match_input(x, model)
    assert y.shape == (2, 1, 28, 28) and 0 <= y.min() and y.max() <= 1
    feats, _ = extract_features(model, _toy(6, channels=3, size=32), cache=False)
    assert feats.shape == (6, 128)
