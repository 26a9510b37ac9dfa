"""Nothing silently wrong: one error type per kind of bad input, from the library and from the CLI."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from optimist.core import pgd, robust_accuracy
from optimist.core.checkpoints import CheckpointError, load_model, save_model
from optimist.core.cli import main
from optimist.core.errors import (
    DeviceError,
    ImageDTypeError,
    ImageRangeError,
    ImageShapeError,
    LabelError,
    ModelMismatchError,
)
from optimist.core.models import build_model
from optimist.core.runtime import resolve_device


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    return build_model("small-cnn").eval()


Y = torch.arange(8) % 10


@pytest.mark.parametrize("x,error,match", [
    (torch.rand(8, 1, 32, 32), ModelMismatchError, "28x28 images but x is 32x32"),
    (torch.rand(8, 3, 28, 28), ModelMismatchError, "1-channel images but x has 3 channels"),
    (torch.rand(8, 1, 28, 28, dtype=torch.float64), ImageDTypeError, "float64 but the model's weights are"),
    ((torch.rand(8, 1, 28, 28) * 255).to(torch.uint8), ImageDTypeError, "divide 8-bit images by 255"),
    (torch.rand(8, 784), ImageShapeError, r"reshape flattened images"),
    (torch.rand(1, 28, 28), ImageShapeError, r"unsqueeze\(0\)"),
    (torch.rand(8, 1, 28, 28) * 255, ImageRangeError, r"\[0, 1\]"),
])
def test_pgd_names_the_bad_input(cnn, x, error, match):
    with pytest.raises(error, match=match):
        pgd(cnn, x, Y[: len(x)], "linf:0.1", steps=1)


def test_labels_and_counts(cnn):
    x = torch.rand(8, 1, 28, 28)
    with pytest.raises(LabelError, match="outside the model's 10 classes"):
        pgd(cnn, x, torch.full((8,), 12), "linf:0.1", steps=1)
    with pytest.raises(LabelError, match="7 labels for 8 images"):
        pgd(cnn, x, Y[:7], "linf:0.1", steps=1)
    with pytest.raises(ValueError, match="n"):
        robust_accuracy(cnn, [(x, Y)], "linf:0.1", n=0, progress=False)


@pytest.mark.parametrize("device,match", [("cpux", "unknown device"), ("cuda:7", "cuda")])
def test_devices(device, match):
    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has eight GPUs")
    with pytest.raises(DeviceError, match=match):
        resolve_device(device)


def test_tampered_weights_are_refused_and_files_are_readable(tmp_path, cnn):
    path = save_model(tmp_path / "m", cnn)
    mode = stat.S_IMODE(os.stat(path / "model.safetensors").st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask and stat.S_IMODE(os.stat(path).st_mode) == 0o777 & ~umask
    other = build_model("small-cnn")  # same architecture, other weights: a valid file that loads without a hash
    with torch.no_grad():
        other.head.bias.add_(1.0)
    save_model(tmp_path / "other", other)
    (path / "model.safetensors").write_bytes((tmp_path / "other" / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="content hash"):
        load_model(path)


@pytest.mark.parametrize("argv,match", [
    (["eval", "--model", "fashion-mnist/small-cnn/standard", "--threat", "linf:0.1", "--n", "0"],
     "--images must be >= 1"),
    (["eval", "--model", "fashion-mnist/small-cnn/standard", "--threat", "linf:0.1", "--steps", "0"],
     "--steps must be >= 1"),
    (["eval", "--model", "no/such/model", "--threat", "linf:0.1"], "neither an existing checkpoint"),
    (["demo", "--device", "cpux", "core"], "unknown device"),
    (["geometry", "--model", "a=zoo:nope", "--out", "x"], "unknown zoo model"),
    (["geometry", "--model", "bad", "--out", "x"], "LABEL=SPEC"),
    (["geometry", "--model", "a=zoo:fashion-mnist/small-cnn/standard", "--set", "nonsense=3", "--out", "x"],
     "unknown setting.*valid keys"),
    (["geometry", "--model", "a=zoo:fashion-mnist/small-cnn/standard", "--n", "-5", "--out", "x"],
     "setting 'n' must be >= 2"),
    (["geometry", "--model", "a=zoo:fashion-mnist/small-cnn/standard", "--set", "stride=abc", "--out", "x"],
     "setting 'stride' must be an integer"),
    (["--threads", "abc", "demo"], "--threads takes a positive integer"),
])
def test_cli_bad_commands_print_one_line_and_exit_2(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    import re

    assert re.search(match, err), err


def test_record_on_a_checkpoint_folder_is_refused(tmp_path, cnn, capsys):
    save_model(tmp_path / "m", cnn, {"dataset": {"name": "fashion-mnist"}})
    assert main(["eval", "--model", str(tmp_path / "m"), "--threat", "linf:0.1", "--n", "8", "--record"]) == 2
    assert "--record stores the result in a zoo model's card" in capsys.readouterr().err


def test_robust_accuracy_takes_an_images_labels_pair(cnn):
    x, y = torch.rand(8, 1, 28, 28), Y
    res = robust_accuracy(cnn, (x, y), "linf:0.1", steps=2, progress=False)
    assert res.n == 8
    with pytest.raises(ImageRangeError):
        robust_accuracy(cnn, (x * 255, y), "linf:0.1", steps=2, progress=False)


def test_zoo_subcommands_have_their_own_help(capsys):
    texts = {}
    for action in ("list", "get", "recipes", "audit"):
        with pytest.raises(SystemExit) as e:
            main(["zoo", action, "--help"])
        assert e.value.code == 0
        texts[action] = capsys.readouterr().out
    assert len(set(texts.values())) == 4 and "NAME" in texts["get"]
    with pytest.raises(SystemExit) as e:
        main(["zoo"])
    assert e.value.code == 2 and "ACTION" in capsys.readouterr().err
