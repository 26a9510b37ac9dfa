import os
import pickle

import pytest
import torch

from optimist.core.checkpoints import CheckpointError, load_model, read_card, save_model
from optimist.core.importers import import_checkpoint
from optimist.core.models import build_model


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    m = build_model("small-cnn", 10, 1, 28, mean=[0.3], std=[0.4]).eval()
    path = save_model(tmp_path / "ck", m, {"note": "test"})
    return m, path


def test_roundtrip(saved):
    m, path = saved
    loaded = load_model(path)
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(loaded(x), m(x))
    assert read_card(path)["note"] == "test"
    # the safetensors file alone carries the card
    lone = path / "model.safetensors"
    (path / "card.json").unlink()
    assert read_card(lone)["model"]["arch"] == "small-cnn"
    assert torch.equal(load_model(lone)(x), m(x))


def test_truncated_weights_refused(saved):
    _, path = saved
    f = path / "model.safetensors"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_model(path)


def test_corrupt_card_refused(saved):
    _, path = saved
    (path / "card.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(path)


def test_card_architecture_mismatch(saved):
    _, path = saved
    import json

    card = json.loads((path / "card.json").read_text())
    card["model"]["arch"] = "lenet"
    (path / "card.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="does not match the architecture"):
        load_model(path)


def test_foreign_file_refused(tmp_path):
    p = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(2)}, p)
    with pytest.raises(CheckpointError, match="not an Optimist checkpoint"):
        load_model(p)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_model(tmp_path / "missing")


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ.get('EVIL_MARK', '/tmp/optimist-evil-mark')}",))


def test_pickle_with_code_is_never_executed(tmp_path, monkeypatch):
    mark = tmp_path / "pwned"
    monkeypatch.setenv("EVIL_MARK", str(mark))
    p = tmp_path / "evil.pt"
    with open(p, "wb") as f:
        pickle.dump({"model": {"x": _Evil()}}, f)
    with pytest.raises(CheckpointError, match="never unpickles code"):
        import_checkpoint(p, "robustness", "small-cnn", 10, 1, 28)
    assert not mark.exists()
    # a training state file with code is refused too
    from optimist.core.checkpoints import load_state

    ck = tmp_path / "ck"
    save_model(ck, build_model("small-cnn"))
    with open(ck / "state.pt", "wb") as f:
        pickle.dump({"x": _Evil()}, f)
    with pytest.raises(CheckpointError, match="corrupt or holds objects"):
        load_state(ck)
    assert not mark.exists()


def _ours_to_robustness(model):
    sd = {}
    for k, v in model.state_dict().items():
        if k.startswith("normalize."):
            sd[f"module.normalizer.new_{k.split('.')[1]}"] = v.reshape(-1, 1, 1)
            continue
        name = k.replace("body.", "", 1).replace("head.", "fc.", 1)
        sd[f"module.model.{name}"] = v
        sd[f"module.attacker.model.{name}"] = v
    return {"model": sd, "epoch": 89, "optimizer": {"state": {}, "param_groups": []}}


def test_import_robustness_format(tmp_path):
    torch.manual_seed(0)
    ref = build_model("resnet18", 10, 3, 32, mean=[0.49, 0.48, 0.45], std=[0.25, 0.24, 0.26]).eval()
    # perturb BN statistics so an import that drops buffers would be caught
    for mod in ref.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
    p = tmp_path / "cifar_l2_0_5.pt"
    torch.save(_ours_to_robustness(ref), p)
    got = import_checkpoint(p, "robustness", "resnet18", 10, 3, 32)
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(got(x), ref(x), atol=1e-5)
    assert torch.allclose(got.normalize.mean.flatten(), torch.tensor([0.49, 0.48, 0.45]))


def test_import_robustbench_format(tmp_path):
    import torchvision

    torch.manual_seed(0)
    tv = torchvision.models.resnet18(num_classes=10).eval()
    sd = {f"module.model.{k}": v for k, v in tv.state_dict().items()}
    p = tmp_path / "Salman2020Do_R18.pt"
    torch.save(sd, p)
    got = import_checkpoint(p, "robustbench", "tv-resnet18", 10, 3, 64, mean=(0.485, 0.456, 0.406),
                            std=(0.229, 0.224, 0.225))
    x = torch.rand(2, 3, 64, 64)
    norm = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(
        1, 3, 1, 1)
    assert torch.allclose(got(x), tv(norm), atol=1e-5)


def test_import_mismatch_and_unknown_format(tmp_path):
    p = tmp_path / "x.pt"
    torch.save({"state_dict": {"module.model.conv1.weight": torch.zeros(3)}}, p)
    with pytest.raises(CheckpointError, match="does not match"):
        import_checkpoint(p, "robustness", "resnet18", 10, 3, 32)
    with pytest.raises(ValueError, match="unknown checkpoint format"):
        import_checkpoint(p, "keras", "resnet18", 10)
    p.write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(CheckpointError, match="could not be read"):
        import_checkpoint(p, "robustness", "resnet18", 10)
