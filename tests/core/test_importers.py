"""Published checkpoint layouts import with identical logits (against references that share no Optimist code)."""

from __future__ import annotations

import dill
import pytest
import torch

from optimist.core.checkpoints import CheckpointError, load_model, save_model
from optimist.core.importers import guess_architecture, import_checkpoint
from optimist.core.specs import resolve_model as resolve
from reference_nets import autoattack_examples, preact18_forward, random_state, wrn_forward


def _wrn_layout(depth: int, width: int, classes: int = 10) -> dict:
    """RobustBench's WideResNet state-dict keys and shapes, written out from its definition."""
    n = (depth - 4) // 6
    ch = [16, 16 * width, 32 * width, 64 * width]
    out = {"conv1.weight": (16, 3, 3, 3)}

    def bn(p, c):
        out.update({f"{p}.weight": (c,), f"{p}.bias": (c,), f"{p}.running_mean": (c,), f"{p}.running_var": (c,),
                    f"{p}.num_batches_tracked": ()})

    for k in (1, 2, 3):
        for i in range(n):
            cin, cout = (ch[k - 1] if i == 0 else ch[k]), ch[k]
            p = f"block{k}.layer.{i}"
            bn(p + ".bn1", cin)
            out[p + ".conv1.weight"] = (cout, cin, 3, 3)
            bn(p + ".bn2", cout)
            out[p + ".conv2.weight"] = (cout, cout, 3, 3)
            if cin != cout:
                out[p + ".convShortcut.weight"] = (cout, cin, 1, 1)
    bn("bn1", ch[3])
    out.update({"fc.weight": (classes, ch[3]), "fc.bias": (classes,)})
    return out


def _preact_layout(final_bn: bool) -> dict:
    out = {"conv1.weight": (64, 3, 3, 3)}

    def bn(p, c):
        out.update({f"{p}.weight": (c,), f"{p}.bias": (c,), f"{p}.running_mean": (c,), f"{p}.running_var": (c,),
                    f"{p}.num_batches_tracked": ()})

    cin = 64
    for k, w in enumerate((64, 128, 256, 512), start=1):
        for i in (0, 1):
            p = f"layer{k}.{i}"
            a = cin if i == 0 else w
            bn(p + ".bn1", a)
            out[p + ".conv1.weight"] = (w, a, 3, 3)
            bn(p + ".bn2", w)
            out[p + ".conv2.weight"] = (w, w, 3, 3)
            if i == 0 and (k > 1 or a != w):
                out[p + ".shortcut.0.weight"] = (w, a, 1, 1)
        cin = w
    if final_bn:
        bn("bn", 512)
    out.update({"linear.weight": (10, 512), "linear.bias": (10,)})
    return out


def test_autoattack_trained_resnet18_identical_logits(tmp_path):
    """The official AutoAttack package's trained CIFAR-10 ResNet-18, imported through a model spec."""
    examples, weights = autoattack_examples()
    assert examples is not None and weights.is_file(), "pyautoattack (the eval extra) ships examples/model_test.pt"
    ref = examples.ResNet18().eval()
    ref.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model = resolve(f"robustbench:{weights}:resnet18")
    guessed = resolve(f"robustbench:{weights}")
    x = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = ref(x)
        assert (model(x) - want).abs().max() < 1e-4
        assert (guessed(x) - want).abs().max() < 1e-4
    assert model.card["source"]["arch"] == "resnet18"
    save_model(tmp_path / "aa", model)
    with torch.no_grad():
        assert (load_model(tmp_path / "aa")(x) - want).abs().max() < 1e-4


@pytest.mark.parametrize("prefix", ["", "module."])
def test_robustbench_wrn_28_10_identical_logits(tmp_path, prefix):
    sd = random_state(_wrn_layout(28, 10), seed=2)
    path = tmp_path / "Carmon2019Unlabeled.pt"
    torch.save({"state_dict": {prefix + k: v for k, v in sd.items()}} if prefix else sd, path)
    assert guess_architecture(sd) == "wrn-28-10"
    model = import_checkpoint(path, "robustbench", "wrn-28-10")
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert (model(x) - wrn_forward(sd, x)).abs().max() < 1e-4
    assert model.num_classes == 10 and model.in_channels == 3


@pytest.mark.parametrize("final_bn", [False, True])
def test_robustbench_preact_resnet18_identical_logits(tmp_path, final_bn):
    sd = random_state(_preact_layout(final_bn), seed=4)
    path = tmp_path / "preact.pt"
    torch.save(sd, path)
    model = resolve(f"robustbench:{path}")  # architecture guessed from the layout
    assert model.card["source"]["arch"] == ("preact-resnet18-bn" if final_bn else "preact-resnet18")
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert (model(x) - preact18_forward(sd, x)).abs().max() < 1e-4


def test_madrylab_resnet50_with_dill_optimizer_and_schedule(tmp_path):
    """A MadryLab ``robustness`` CIFAR ResNet-50 file as its training code writes it (dill, optimizer, schedule)."""
    examples, _ = autoattack_examples()
    ref = examples.ResNet50()  # the CIFAR ResNet-50 layout MadryLab's cifar_models uses (shortcut, linear)
    ref.load_state_dict(random_state({k: tuple(v.shape) for k, v in ref.state_dict().items()}, seed=6))
    ref.eval()
    mean, std = torch.tensor([0.4914, 0.4822, 0.4465]), torch.tensor([0.2023, 0.1994, 0.2010])
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():  # random weights grow through 16 residual blocks: bring the logits to order 1
        scale = ref((x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)).abs().max()
        ref.linear.weight /= scale
        ref.linear.bias /= scale
    sd = {}
    for k, v in ref.state_dict().items():
        sd[f"module.model.{k}"] = v
        sd[f"module.attacker.model.{k}"] = v
    for prefix in ("module.normalizer", "module.attacker.normalizer"):
        sd[f"{prefix}.new_mean"], sd[f"{prefix}.new_std"] = mean.view(3, 1, 1), std.view(3, 1, 1)
    opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=50)
    path = tmp_path / "cifar_linf_8.pt"
    torch.save({"model": sd, "optimizer": opt.state_dict(), "schedule": sched.state_dict(), "epoch": 150}, path,
               pickle_module=dill)
    model = resolve(f"robustness:{path}:resnet50")
    with torch.no_grad():
        want = ref((x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
        assert (model(x) - want).abs().max() < 1e-4
    assert guess_architecture({k[13:]: v for k, v in sd.items() if k.startswith("module.model.")}) == "resnet50"


def test_mismatch_names_keys_and_likely_architecture(tmp_path):
    sd = random_state(_wrn_layout(16, 2), seed=0)  # WRN-16-2: not in the registry
    path = tmp_path / "wrn.pt"
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match="WideResNet-16-2"):
        import_checkpoint(path, "robustbench")
    sd = random_state(_preact_layout(False), seed=0)
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match=r"missing .*looks like 'preact-resnet18'"):
        import_checkpoint(path, "robustbench", "resnet18")


def test_robustbench_imagenet_wrapper_sequential_normalize_model(tmp_path):
    """RobustBench's ImageNet models: nn.Sequential(normalizer with mean/std buffers, torchvision network)."""
    import torchvision
    from torch import nn

    class Normalizer(nn.Module):  # the wrapper's first module, as its state dict stores it: "0.mean", "0.std"
        def __init__(self, mean, std):
            super().__init__()
            self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

        def forward(self, x):
            return (x - self.mean) / self.std

    torch.manual_seed(0)
    ref = nn.Sequential(Normalizer([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
                        torchvision.models.resnet50(num_classes=10)).eval()
    path = tmp_path / "Salman2020Do_R50.pt"
    torch.save(ref.state_dict(), path)
    model = resolve(f"robustbench:{path}?image_size=64")
    assert model.card["source"]["arch"] == "tv-resnet50"
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert (model(x) - ref(x)).abs().max() < 1e-4
