import json
import os

import pytest
import torch

from optimist.core.checkpoints import load_model, load_state, read_card, resolve
from optimist.core.data import subset
from optimist.core.evaluate import robust_accuracy
from optimist.core.models import build_for_dataset
from optimist.core.train import TrainConfig, default_config, train


@pytest.fixture(scope="module")
def tiny(fmnist_train):
    return subset(fmnist_train, 1024, seed=0)


def _model(ds, seed=0):
    torch.manual_seed(seed)
    return build_for_dataset("small-cnn", ds.info)


@pytest.mark.parametrize("method", ["standard", "pgd", "trades", "fast"])
def test_each_method_lowers_loss(tiny, method):
    cfg = default_config("fashion-mnist", method, epochs=2, attack_steps=2, batch_size=128, guard_size=128,
                         guard_every=4, **({"lr": 0.02} if method == "fast" else {}))
    res = train(_model(tiny), tiny, cfg, progress=False)
    losses = [r["loss"] for r in res.history]
    assert len(losses) >= 1 and all(torch.isfinite(torch.tensor(losses)))
    if len(losses) == 2:
        assert losses[1] < losses[0], losses
    if method != "standard":
        assert "train_adv_acc" in res.history[0]
    if method == "fast":
        assert "guard_pgd_acc" in res.history[0]


def test_robust_training_beats_standard_under_pgd(small_pair, fmnist_test):
    """The small pair of the shared fixture (10,000 images, 2 epochs): PGD-AT must be clearly more robust."""
    test = subset(fmnist_test, 500, seed=1)
    std = robust_accuracy(small_pair["standard"], test, "linf:0.1", steps=20, progress=False)
    rob = robust_accuracy(small_pair["robust"], test, "linf:0.1", steps=20, progress=False)
    # stated margin: at least 15 points of PGD-20 accuracy at L-inf 0.1
    assert rob.robust_accuracy >= std.robust_accuracy + 0.15, (rob.robust_accuracy, std.robust_accuracy)
    assert std.clean_accuracy > 0.75 and rob.clean_accuracy > 0.65


def test_checkpoint_every_epoch_and_card(tiny, tmp_path):
    cfg = TrainConfig(epochs=3, batch_size=256)
    train(_model(tiny), tiny, cfg, run_dir=tmp_path, progress=False, card={"dataset": {"name": "fashion-mnist"}})
    ckpts = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert ckpts == ["epoch-0002", "epoch-0003"]  # the two newest are kept
    assert json.loads((tmp_path / "latest.json").read_text())["checkpoint"].endswith("epoch-0003")
    card = read_card(tmp_path)
    assert card["model"]["arch"] == "small-cnn" and card["training"]["epochs_done"] == 3
    assert card["dataset"]["name"] == "fashion-mnist" and "torch" in card["versions"]
    state = load_state(tmp_path)
    assert state["epoch"] == 2 and "optimizer" in state and "scheduler" in state
    m = load_model(tmp_path)
    assert not m.training


def test_resume_matches_uninterrupted(tiny, tmp_path):
    cfg = default_config("fashion-mnist", "pgd", epochs=3, attack_steps=2, batch_size=256)
    full = train(_model(tiny), tiny, cfg, run_dir=tmp_path / "full", progress=False).model
    # "Kill" after one epoch: train a 3-epoch run but stop it by raising in the middle of epoch 2.
    part_dir = tmp_path / "part"
    model = _model(tiny)
    calls = {"n": 0}
    original = model.forward

    def dying_forward(x):
        calls["n"] += 1
        if calls["n"] > 4 * 6 + 2:  # one epoch is 4 batches x (1 + attack steps... ) forwards; die in epoch 2
            raise KeyboardInterrupt("simulated kill")
        return original(x)

    model.forward = dying_forward
    with pytest.raises(KeyboardInterrupt):
        train(model, tiny, cfg, run_dir=part_dir, progress=False)
    assert load_state(part_dir)["epoch"] == 0  # only epoch 1 was saved
    resumed = train(_model(tiny, seed=123), tiny, cfg, run_dir=part_dir, progress=False).model
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k


def test_resume_with_other_settings_is_refused(tiny, tmp_path):
    train(_model(tiny), tiny, TrainConfig(epochs=1), run_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="cannot resume"):
        train(_model(tiny), tiny, TrainConfig(epochs=1, lr=0.5), run_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="already holds a run"):
        train(_model(tiny), tiny, TrainConfig(epochs=1), run_dir=tmp_path, resume=False, progress=False)


def test_crash_mid_write_leaves_previous_checkpoint(tiny, tmp_path, monkeypatch):
    cfg = TrainConfig(epochs=2, batch_size=256)
    train(_model(tiny), tiny, cfg, run_dir=tmp_path / "ref", progress=False)
    import optimist.core.checkpoints as ck

    real_save = ck.save_file
    calls = {"n": 0}

    def failing_save(tensors, path, metadata=None):
        calls["n"] += 1
        if calls["n"] == 2:  # the second epoch's write dies half-way
            with open(path, "wb") as f:
                f.write(b"\x00" * 10)
            raise OSError("disk full (simulated)")
        return real_save(tensors, path, metadata=metadata)

    monkeypatch.setattr(ck, "save_file", failing_save)
    with pytest.raises(OSError, match="simulated"):
        train(_model(tiny), tiny, cfg, run_dir=tmp_path / "run", progress=False)
    monkeypatch.setattr(ck, "save_file", real_save)
    path = resolve(tmp_path / "run")
    assert path.name == "epoch-0001"
    model = load_model(tmp_path / "run")  # still readable
    ref = load_model(tmp_path / "ref" / "checkpoints" / "epoch-0001")
    for a, b in zip(model.state_dict().values(), ref.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)
    leftovers = [p for p in (tmp_path / "run" / "checkpoints").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_config_validation():
    with pytest.raises(ValueError, match="unknown training method"):
        TrainConfig(method="magic")
    with pytest.raises(ValueError, match="needs a threat"):
        TrainConfig(method="pgd")
    assert default_config("fashion-mnist", "pgd").threat == "linf:0.1"
    assert default_config("fashion-mnist", "trades").trades_beta == 1.0
    assert default_config("fashion-mnist", "fast").schedule == "cyclic"


@pytest.mark.skipif(os.cpu_count() is None, reason="needs cpu count")
def test_fast_at_guard_restores_weights_on_collapse(tiny, monkeypatch):
    """When the guard's PGD accuracy collapses, training stops and the best weights come back."""
    import optimist.core.train.loop as loop

    accs = iter([0.5, 0.6, 0.1, 0.1, 0.1, 0.1])
    monkeypatch.setattr(loop, "_guard_accuracy", lambda raw, guard, cfg: next(accs))
    cfg = default_config("fashion-mnist", "fast", epochs=3, guard_size=128, guard_every=2, batch_size=128)
    res = train(_model(tiny), tiny, cfg, progress=False)
    assert res.stopped_early
    assert "early_stop" in res.history[-1]
