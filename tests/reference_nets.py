"""Independent reference forwards for published checkpoint layouts, written functionally on the raw state dict.

They follow the published networks' definitions (RobustBench's WideResNet and PreActResNet-18 code paths,
read from the RobustBench repository) with ``torch.nn.functional`` only, so they share no code with
Optimist's modules: an importer that maps a key wrongly, or a block that adds the wrong shortcut, gives
different logits. Also the official AutoAttack package's example ResNets (real third-party code).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F


def _bn(sd, p, x):
    return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"],
                        training=False, eps=1e-5)


def wrn_forward(sd: dict, x: torch.Tensor) -> torch.Tensor:
    """WideResNet as in RobustBench's ``wide_resnet.py`` (keys conv1, blockK.layer.N.*, bn1, fc)."""
    out = F.conv2d(x, sd["conv1.weight"], padding=1)
    for k in (1, 2, 3):
        n = len({key.split(".")[2] for key in sd if key.startswith(f"block{k}.layer.")})
        for i in range(n):
            p = f"block{k}.layer.{i}"
            stride = 2 if (k > 1 and i == 0) else 1
            equal = f"{p}.convShortcut.weight" not in sd
            if equal:
                act = F.relu(_bn(sd, p + ".bn1", out))
                res = out
            else:
                out = F.relu(_bn(sd, p + ".bn1", out))
                act = out
                res = F.conv2d(out, sd[p + ".convShortcut.weight"], stride=stride)
            h = F.relu(_bn(sd, p + ".bn2", F.conv2d(act, sd[p + ".conv1.weight"], stride=stride, padding=1)))
            h = F.conv2d(h, sd[p + ".conv2.weight"], padding=1)
            out = res + h
    out = F.relu(_bn(sd, "bn1", out))
    out = F.avg_pool2d(out, 8).flatten(1)
    return F.linear(out, sd["fc.weight"], sd.get("fc.bias"))


def preact18_forward(sd: dict, x: torch.Tensor) -> torch.Tensor:
    """PreActResNet-18 as in RobustBench's ``resnet.py`` (``bn`` before the classifier when present)."""
    out = F.conv2d(x, sd["conv1.weight"], padding=1)
    for k in (1, 2, 3, 4):
        for i in (0, 1):
            p = f"layer{k}.{i}"
            stride = 2 if (k > 1 and i == 0) else 1
            a = F.relu(_bn(sd, p + ".bn1", out))
            short = F.conv2d(out, sd[p + ".shortcut.0.weight"], stride=stride) \
                if f"{p}.shortcut.0.weight" in sd else out
            h = F.conv2d(a, sd[p + ".conv1.weight"], stride=stride, padding=1)
            h = F.conv2d(F.relu(_bn(sd, p + ".bn2", h)), sd[p + ".conv2.weight"], padding=1)
            out = h + short
    if "bn.weight" in sd:
        out = F.relu(_bn(sd, "bn", out))
    out = F.avg_pool2d(out, 4).flatten(1)
    return F.linear(out, sd["linear.weight"], sd["linear.bias"])


def random_state(keys_and_shapes: dict, seed: int = 0) -> dict:
    """Random weights (and plausible batch-norm statistics) for a state dict layout."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, shape in keys_and_shapes.items():
        if k.endswith("num_batches_tracked"):
            out[k] = torch.tensor(0)
        elif k.endswith("running_var"):
            out[k] = torch.rand(shape, generator=g) + 0.5
        elif k.endswith("running_mean"):
            out[k] = torch.randn(shape, generator=g) * 0.1
        elif len(shape) == 4:
            fan = shape[1] * shape[2] * shape[3]
            out[k] = torch.randn(shape, generator=g) * (2.0 / fan) ** 0.5
        elif len(shape) == 2:
            out[k] = torch.randn(shape, generator=g) * (1.0 / shape[1]) ** 0.5
        elif k.endswith("weight"):
            out[k] = 1 + 0.1 * torch.randn(shape, generator=g)
        else:
            out[k] = 0.1 * torch.randn(shape, generator=g)
    return out


def autoattack_examples():
    """The official AutoAttack package's ``examples/resnet.py`` module and the path of its trained model."""
    spec = importlib.util.find_spec("pyautoattack")
    if spec is None or spec.origin is None:
        return None, None
    folder = Path(spec.origin).parent / "examples"
    if not (folder / "resnet.py").is_file():
        return None, None
    mod_spec = importlib.util.spec_from_file_location("pyautoattack_examples_resnet", folder / "resnet.py")
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module, folder / "model_test.pt"
