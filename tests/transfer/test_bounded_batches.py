"""The application extracts features in bounded chunks (run.map) and the probes read them from there."""

import torch

from optimist.core.testing import reference_models
from optimist.transfer import APPLICATION, compare
from optimist.transfer import features as features_module


def test_features_come_from_the_bounded_chunks_and_the_batch_does_not_change_the_table(monkeypatch):
    models = reference_models("sequential")
    settings = {**APPLICATION.tiny_settings}

    def no_second_extraction(*args, **kwargs):
        raise AssertionError("the probes extracted features again instead of reading the chunks' features")

    monkeypatch.setattr(features_module, "compute_features", no_second_extraction)
    big = compare(models, "fashion-mnist?n=80", progress=False, seed=1, batch_size=64, **settings)
    small = compare(models, "fashion-mnist?n=80", progress=False, seed=1, batch_size=5, **settings)
    assert big.settings["batch_size"] == 64 and small.settings["batch_size"] == 5
    a, b = big.table["value"].to_numpy(), small.table["value"].to_numpy()
    assert torch.allclose(torch.as_tensor(a), torch.as_tensor(b), atol=1e-6)
