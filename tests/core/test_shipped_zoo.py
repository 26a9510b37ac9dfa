"""The shipped zoo: models that come with optimist-zoo load in place, hash-checked, without training."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from optimist.core import shipped, zoo
from optimist.core.checkpoints import read_card
from optimist.core.errors import CheckpointError, InputError
from optimist.core.train import default_config

ROOT = Path(__file__).resolve().parents[2]
THREE = ("fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/linf-0.1", "fashion-mnist/small-cnn/l2-3")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a shipped model was trained")

    monkeypatch.setattr(zoo, "train_recipe", refuse)


def test_every_shipped_recipe_ships_with_matching_hashes():
    wanted = sorted(n for n, r in zoo.recipes().items() if "shipped" in r.tags)
    assert shipped.shipped_names() == wanted
    for name in wanted:
        item = zoo.shipped_model(name)
        assert item is not None, f"{name} ships weights of another version of its recipe: retrain and ship it"
        shipped.verify_files(item)
        card = item.card()
        assert "evaluation" in card and card["evaluation"]["robust"][0]["n"] == zoo.FULL_TEST
        history = card["training"]["history"]
        assert len(history) == card["training"]["epochs"] and "holdout_clean_acc" in history[-1]


def test_shipped_package_stays_under_40_mb():
    folder = ROOT / "packages" / "zoo"
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert size < 40e6


def test_cards_meet_the_targets():
    def card(name):
        return zoo.shipped_model(name).card()

    assert card("fashion-mnist/small-cnn/standard")["evaluation"]["clean_accuracy"] >= 0.92
    robust = card("fashion-mnist/small-cnn/linf-0.1")
    ev = robust["evaluation"]
    linf = next(r for r in ev["robust"] if r["threat"] == "linf:0.1")
    assert ev["clean_accuracy"] >= 0.84 and linf["robust_accuracy"] >= 0.70
    audit = next(e for e in robust["extra_evaluations"] if e["attack"] == "autoattack")
    assert abs(audit["gap_points"]) <= 1.0
    assert card("fashion-mnist/lenet/evaluator")["evaluation"]["clean_accuracy"] >= 0.91


def test_get_of_shipped_models_trains_and_writes_nothing(monkeypatch, tmp_path):
    _no_training(monkeypatch)
    for name in THREE:
        model = zoo.get(name, root=tmp_path, progress=False)
        assert not model.training and model.card["name"] == name
        assert zoo.source(name, tmp_path)[0] == "shipped"
    assert list(tmp_path.iterdir()) == []


def test_cli_zoo_get_and_list_say_where_models_come_from(tmp_path):
    env = {**os.environ, "OPTIMIST_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "optimist.core.cli", "zoo", "get", *THREE], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count(": shipped,") == 3 and "test clean" in out.stdout
    assert not (tmp_path / "zoo").exists()  # nothing copied, nothing trained
    listing = subprocess.run([sys.executable, "-m", "optimist.core.cli", "zoo", "list"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0 and "shipped" in listing.stdout and "linf-0.1" in listing.stdout


@pytest.fixture()
def copied_package(tmp_path, monkeypatch):
    """The installed zoo package copied to a temporary folder, and the zoo pointed at the copy."""
    source = Path(str(shipped._roots()[0][1]))
    copy = tmp_path / "zoo-package"
    shutil.copytree(source, copy)
    monkeypatch.setattr(shipped, "_roots", lambda: [("optimist-zoo", copy)])
    return copy


def test_a_corrupted_shipped_file_is_a_clear_error(copied_package, monkeypatch):
    _no_training(monkeypatch)
    name = "fashion-mnist/small-cnn/linf-0.1"
    weights = copied_package / "models" / name / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match its SHA-256.*reinstall.*optimist zoo verify"):
        zoo.get(name, progress=False)
    weights.unlink()
    with pytest.raises(CheckpointError, match="is missing; reinstall"):
        zoo.get(name, progress=False)


def _tiny_recipe(name: str, epochs: int = 1) -> zoo.Recipe:
    cfg = default_config("fashion-mnist", "standard", epochs=epochs, seed=3, holdout=100)
    return zoo.Recipe(name, "fashion-mnist", "mlp", cfg, train_size=600, eval_threats=("linf:0.1",), eval_n=200,
                      tags=("shipped",))


def test_cache_keeps_the_final_checkpoint_and_sets_aside_another_recipe(tmp_path, capsys):
    name = "check/mlp/tiny"
    with zoo.registered(_tiny_recipe(name, epochs=3)):
        zoo.get(name, root=tmp_path, progress=False)
        folder = zoo.model_dir(name, tmp_path)
        epochs = sorted(p.name for p in (folder / "checkpoints").iterdir())
        assert epochs == ["epoch-0003"] and not (folder / "checkpoints" / "epoch-0003" / "state.pt").exists()
        history = read_card(folder)["training"]["history"]
        assert [h["epoch"] for h in history] == [1, 2, 3] and all("holdout_clean_acc" in h for h in history)
    with zoo.registered(_tiny_recipe(name, epochs=2)):  # the recipe changed: the old model is kept aside
        assert not zoo.is_cached(name, tmp_path)
        zoo.get(name, root=tmp_path, progress=True)
        assert "another version of the recipe" in capsys.readouterr().out
        assert read_card(zoo.model_dir(name, tmp_path))["training"]["epochs"] == 2
        assert read_card(folder.with_name("tiny.other-recipe-1"))["training"]["epochs"] == 3


def test_ship_then_verify_reproduces_the_card(tmp_path, monkeypatch):
    ship_zoo = _script("ship_zoo")
    package = tmp_path / "package"
    (package / "models").mkdir(parents=True)
    (package / shipped.MANIFEST).write_text(json.dumps({"format": shipped.MANIFEST_FORMAT, "models": {}}))
    monkeypatch.setattr(shipped, "_roots", lambda: [("optimist-zoo", package)])
    name = "check/mlp/tiny"
    with zoo.registered(_tiny_recipe(name)):
        zoo.get(name, root=tmp_path / "train", progress=False)
        entry = ship_zoo.ship(name, tmp_path / "train", package)
        (package / shipped.MANIFEST).write_text(json.dumps({"format": 1, "models": {name: entry}}))
        assert zoo.source(name, tmp_path / "empty")[0] == "shipped"
        rows = zoo.verify(name, tmp_path / "again", progress=False)
        assert {r["number"] for r in rows} >= {"test clean", "test robust linf:0.1"}
        for row in rows:
            assert abs(row["difference (points)"]) < 0.5, row
        with pytest.raises(InputError, match="already holds a finished"):
            zoo.verify(name, tmp_path / "again", progress=False)
    with pytest.raises(InputError, match="not a shipped model"):
        zoo.verify("fashion-mnist/small-cnn/linf-0.2", tmp_path / "x", progress=False)


@pytest.mark.slow
def test_verify_retrains_the_shipped_robust_judge(tmp_path):
    rows = zoo.verify("fashion-mnist/mlp/robust-judge", tmp_path, progress=False)
    for row in rows:
        assert abs(row["difference (points)"]) < 1.0, row


@pytest.mark.slow
def test_shipped_linf_model_holds_under_an_independent_pgd20(fmnist_test):
    torchattacks = pytest.importorskip("torchattacks")
    model = zoo.get("fashion-mnist/small-cnn/linf-0.1", progress=False)
    attack = torchattacks.PGD(model, eps=0.1, alpha=0.01, steps=20, random_start=True)
    clean = robust = 0
    for lo in range(0, len(fmnist_test), 1000):
        x, y = fmnist_test.images[lo:lo + 1000], fmnist_test.targets[lo:lo + 1000]
        with torch.no_grad():
            clean += (model(x).argmax(1) == y).sum().item()
        robust += (model(attack(x, y)).argmax(1) == y).sum().item()
    assert clean / len(fmnist_test) >= 0.84 and robust / len(fmnist_test) >= 0.70
