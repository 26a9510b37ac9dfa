import json
import subprocess
import sys
from pathlib import Path

import pytest

from optimist.core.cli import main


def test_help_explains(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "optimist demo" in out and "optimist train" in out and "optimist eval" in out
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = capsys.readouterr().out
    assert "HTML report" in out and "--quick" in out


def test_unknown_values_list_valid_ones(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--model", "vgg", "--out", "x"])
    assert "small-cnn" in capsys.readouterr().err
    assert main(["train", "--dataset", "imagenet-99", "--out", "x"]) == 2
    assert "known datasets" in capsys.readouterr().err
    assert main(["eval", "--model", "no/such/model", "--threat", "linf:0.1"]) == 2
    assert "neither an existing checkpoint path nor a zoo name" in capsys.readouterr().err
    assert main(["eval", "--model", "no/such/model", "--threat", "linf"]) == 2


def test_train_then_eval(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--method", "pgd", "--threat", "linf:0.1", "--epochs", "1", "--subset", "512",
                 "--attack-steps", "2", "--out", str(out)]) == 0
    assert (out / "latest.json").exists()
    capsys.readouterr()
    assert main(["eval", "--model", str(out), "--threat", "linf:0.1", "--n", "64", "--steps", "5"]) == 0
    line = capsys.readouterr().out
    assert "clean" in line and "robust" in line and "n=64" in line
    assert main(["eval", "--model", str(out), "--threat", "linf:0.1", "--n", "64", "--steps", "5",
                 "--losses", "ce", "--targets", "2"]) == 0
    assert "n=64" in capsys.readouterr().out
    assert main(["eval", "--model", str(out), "--threat", "linf:0.1", "--n", "8", "--losses", "hinge"]) == 2
    assert "unknown loss 'hinge'" in capsys.readouterr().err


def test_zoo_list_and_recipes(capsys, small_zoo, monkeypatch):
    assert main(["zoo", "recipes"]) == 0
    assert "fashion-mnist/small-cnn/linf-0.1" in capsys.readouterr().out
    monkeypatch.setenv("OPTIMIST_HOME", str(Path(small_zoo).parent / "empty-home"))
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out  # an empty cache still lists the shipped models
    assert "fashion-mnist/small-cnn/linf-0.1" in out and "shipped" in out and "cached" not in out


def test_demo_writes_report_with_figures(tmp_path, small_zoo):
    out = tmp_path / "report"
    assert main(["demo", "core", "--quick", "--out", str(out), "--zoo-root", str(small_zoo)]) == 0
    html = (out / "index.html").read_text()
    assert "data:image/png;base64," in html and "The zoo&#x27;s default pair" in html
    assert list((out / "figures").glob("*.png"))
    settings = json.loads((out / "settings.json").read_text())
    assert settings["demos"] == ["core"] and settings["options"]["quick"] is True


def test_console_script_installed():
    exe = Path(sys.executable).parent / "optimist"
    res = subprocess.run([str(exe), "demo", "--list"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "core" in res.stdout.split()


def test_demo_settings_parse():
    from optimist.core.cli import _parse_settings

    assert _parse_settings(["stride=1", "models=[\"a\"]", "name=robust"]) == {
        "stride": 1, "models": ["a"], "name": "robust"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        _parse_settings(["stride"])
