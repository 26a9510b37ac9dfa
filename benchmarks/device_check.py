"""One command for a machine with an accelerator: attack speed, evaluation strength, every application at scale.

1. PGD-10 L-inf throughput on a WideResNet-28-10 (CIFAR-10 shape, batch 256) against torchattacks' PGD on the
   same device (``attack_throughput.throughput_rows``).
2. The default evaluation against the official AutoAttack (standard) on AutoAttack's shipped CIFAR-10
   ResNet-18, 1,000 images: accuracy gap and time ratio (``eval_vs_autoattack.compare_row``). The CIFAR-10 test
   set is read from ``--cifar10 ROOT``; without it the table says so and uses random images labelled by the
   model's own predictions (both attacks then try to change every prediction: still a strength comparison).
3. Every application on a random-weight ResNet-50 at 224x224, ``--images 64`` (``imagenet_scale.scale_rows``).

Writes the three tables, with the device and the command, as markdown to ``--out`` (default
``results/device_check.md``). ``--tiny`` shrinks every part (a ResNet-18 for the WideResNet at batch 4, 4
AutoAttack images, ResNet-18 at 32 px with the applications' tiny settings) so that ``--device cpu --tiny``
checks the whole script in a minute or two.

    python benchmarks/device_check.py --device cuda            # about 8 minutes on one GPU
    python benchmarks/device_check.py --device cpu --tiny      # the test suite runs this
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from attack_throughput import throughput_rows
from eval_vs_autoattack import compare_row
from imagenet_scale import APPS, image_folder, scale_rows
from optimist.core.application import available_applications
from optimist.core.data import from_tensors
from optimist.core.models import build_model
from optimist.core.runtime import resolve_device
from optimist.core.specs import resolve_data, resolve_model
from timing import RESULTS, markdown

AUTOATTACK_THREAT = "linf:0.0313725"  # 8/255


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return f"CPU: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def _autoattack_model():
    """AutoAttack's shipped CIFAR-10 ResNet-18, imported through core (its own architecture file is not needed)."""
    import importlib.util

    spec = importlib.util.find_spec("pyautoattack")
    weights = Path(spec.origin).parent / "examples" / "model_test.pt" if spec and spec.origin else None
    if weights is None or not weights.is_file():
        raise SystemExit("device_check: the official AutoAttack package (pyautoattack) with its examples/"
                         "model_test.pt is needed: pip install pyautoattack")
    return resolve_model(f"robustbench:{weights}:resnet18")


def _cifar_or_random(model, root: str | None, n: int, device: torch.device):
    if root:
        return resolve_data(f"cifar10:{root}"), "CIFAR-10 test set"
    x = torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = model.to(device)(x.to(device)).argmax(1).cpu()
    return from_tensors(x, y, name="random"), ("random images labelled by the model's predictions (no CIFAR-10 "
                                               "given: pass --cifar10 ROOT)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="torch device (default: %(default)s)")
    p.add_argument("--tiny", action="store_true", help="every part shrunk: checks the script, not the machine")
    p.add_argument("--cifar10", default=None, metavar="ROOT", help="folder holding the CIFAR-10 test set")
    p.add_argument("--parts", default="attack,autoattack,applications", help="which parts (default: all three)")
    p.add_argument("--out", default=str(RESULTS / "device_check.md"), help="markdown file (default: %(default)s)")
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    parts = set(args.parts.split(","))
    started = time.perf_counter()
    sections = [f"# Device check\n\nDevice: {_device_name(device)}. Torch {torch.__version__}. Date "
                f"{time.strftime('%Y-%m-%d')}. Command: `python benchmarks/device_check.py "
                f"{' '.join(argv if argv is not None else sys.argv[1:])}`" + (" (tiny: the script's check, not the "
                                                                              "machine's)" if args.tiny else "")]
    if "attack" in parts:
        torch.manual_seed(0)
        batch, arch = (4, "resnet18") if args.tiny else (256, "wrn-28-10")
        net = build_model(arch, 10, 3, 32).eval()
        x = torch.rand(batch, 3, 32, 32)
        with torch.no_grad():
            y = net.to(device)(x.to(device)).argmax(1).cpu()
        rows = throughput_rows(f"{arch} (random weights)", net, x, y, steps=10, repeats=1 if args.tiny else 3,
                               norms=("linf",), layouts=device.type == "cpu" and not args.tiny, device=str(device))
        sections.append(f"## 1. PGD-10 L-inf 8/255 throughput, {arch}, batch {batch}\n\n"
                        + markdown(pd.DataFrame(rows)))
        print(sections[-1], flush=True)
    if "autoattack" in parts:
        model = _autoattack_model()
        n = 4 if args.tiny else 1000
        data, about = _cifar_or_random(model, args.cifar10, n, device)
        row, _ = compare_row(model.to(device), data, AUTOATTACK_THREAT, n=n, label="AutoAttack's ResNet-18")
        sections.append(f"## 2. Default evaluation vs the official AutoAttack (standard), L-inf 8/255, {about}\n\n"
                        + markdown(pd.DataFrame([row])))
        print(sections[-1], flush=True)
    if "applications" in parts:
        size, images, arch = (32, 4, "resnet18") if args.tiny else (224, 64, "resnet50")
        work = Path(tempfile.mkdtemp(prefix="optimist-device-"))
        data = f"imagefolder:{image_folder(work / 'images', size)}?size={size}"
        tiny = {name: dict(app.tiny_settings) for name, app in available_applications().items()} \
            if args.tiny else None
        rows = scale_rows(list(APPS), spec=f"torchvision:{arch}?num_classes=10&image_size={size}", data=data,
                          images=images, work=work, settings=tiny, device=str(device))
        sections.append(f"## 3. Every application, random-weight {arch} at {size}x{size}, {images} images\n\n"
                        + markdown(pd.DataFrame(rows)))
        print(sections[-1], flush=True)
    sections.append(f"Total: {time.perf_counter() - started:.0f} s.")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n\n".join(sections) + "\n")
    print(f"\nwritten to {out}")
    failed = "applications" in parts and any(r["exit"] != 0 for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
