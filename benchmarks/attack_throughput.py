"""PGD throughput: Optimist vs torchattacks on the same model, data and settings (images per second).

Prints a table and writes results/attack_throughput.{csv,json}. The comparison only counts if attack
strength is equal: the robust accuracy under each implementation is reported beside its speed.

    python benchmarks/attack_throughput.py [--repeats 5] [--steps 10] [--batch 256] [--resnet-batch 64]

Rows: torchattacks on the model as loaded (the reference), torchattacks on a channels-last copy that the
user converted by hand (how much of the gap is memory layout), Optimist's engine (which switches a CPU model
to channels-last for the attack by itself), and Optimist with early stop (what evaluation uses: a fooled
example stops costing compute; its robust accuracy is the same up to random-start noise).
"""

from __future__ import annotations

import argparse
import copy

import pandas as pd
import torch

from optimist.core.attacks import Threat, pgd
from optimist.core.data import load_dataset
from optimist.core.models import build_model
from timing import interleaved, median, save


def _accuracy(model, x, y) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def _models(skip_resnet: bool, resnet_batch: int):
    from optimist.core import zoo

    out = []
    name = "fashion-mnist/small-cnn/linf-0.1"
    model = zoo.get(name) if zoo.is_cached(name) else None
    if model is None:
        print(f"{name} is not cached: using a random-weight small-cnn (run `optimist zoo get {name}` first)")
        model = build_model("small-cnn", 10, 1, 28).eval()
    test = load_dataset("fashion-mnist", "test")
    out.append(("small-cnn (zoo, Fashion-MNIST)", model, test.images, test.targets))
    if not skip_resnet:
        torch.manual_seed(0)
        rn = build_model("resnet18", 10, 3, 32).eval()
        x = torch.rand(resnet_batch, 3, 32, 32)
        with torch.no_grad():
            y = rn(x).argmax(1)
        out.append(("resnet18 (random weights, 32x32)", rn, x, y))
    return out


def throughput_rows(label: str, model, x: torch.Tensor, y: torch.Tensor, *, steps: int = 10, repeats: int = 5,
                    norms: tuple[str, ...] = ("linf", "l2"), layouts: bool = True, device: str = "cpu") -> list[dict]:
    """Images per second of Optimist's PGD and torchattacks' on ``model`` and the batch ``x, y``, per norm, with the
    robust accuracy each leaves (equal strength is what makes the speeds comparable). ``layouts`` adds the
    torchattacks-on-a-channels-last-copy row (CPU layouts)."""
    import torchattacks

    model, x, y = model.to(device).eval(), x.to(device), y.to(device)
    model_cl = copy.deepcopy(model).to(memory_format=torch.channels_last) if layouts else None
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    rows = []
    for norm in norms:
        eps = (0.1 if x.shape[1] == 1 else 8 / 255) if norm == "linf" else (1.5 if x.shape[1] == 1 else 0.5)
        cls = torchattacks.PGD if norm == "linf" else torchattacks.PGDL2
        alpha = 2.5 * eps / steps
        threat = Threat(norm, eps)
        ta = cls(model, eps=eps, alpha=alpha, steps=steps, random_start=True)
        outs = {}

        def case(name, fn):
            def run():
                outs[name] = fn()
                sync()
            return run

        cases = {"torchattacks": case("torchattacks", lambda: ta(x, y))}
        if layouts:
            ta_cl = cls(model_cl, eps=eps, alpha=alpha, steps=steps, random_start=True)
            cases["torchattacks (channels-last copy)"] = case("torchattacks (channels-last copy)",
                                                              lambda: ta_cl(x, y))
        cases["optimist"] = case("optimist", lambda: pgd(model, x, y, threat, steps=steps, step_size=alpha))
        cases["optimist (early stop)"] = case("optimist (early stop)", lambda: pgd(
            model, x, y, threat, steps=steps, step_size=alpha, early_stop=True))
        failed = {}
        for impl, fn in list(cases.items()):
            try:
                fn()
            except RuntimeError as e:  # e.g. torchattacks' PGDL2 views a channels-last gradient
                failed[impl] = str(e).split("\n")[0][:120]
                del cases[impl]
        times = interleaved(cases, repeats)
        ref = median(times["torchattacks"])
        for impl, ts in times.items():
            rows.append({"model": label, "threat": str(threat), "impl": impl, "steps": steps, "batch": len(y),
                         "device": str(device), "images_per_s": len(y) / median(ts),
                         "speedup_vs_torchattacks": ref / median(ts), "robust_acc": _accuracy(model, outs[impl], y)})
        for impl, err in failed.items():
            rows.append({"model": label, "threat": str(threat), "impl": impl, "steps": steps, "batch": len(y),
                         "device": str(device), "error": err})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--resnet-batch", type=int, default=64,
                   help="batch for the ResNet-18 (256 takes ~1 min per attack on 2 CPU cores; use it on a GPU)")
    p.add_argument("--skip-resnet", action="store_true")
    args = p.parse_args()
    rows = []
    for label, model, xs, ys in _models(args.skip_resnet, args.resnet_batch):
        new = throughput_rows(label, model, xs[: args.batch], ys[: args.batch], steps=args.steps,
                              repeats=args.repeats)
        rows += new
        print(pd.DataFrame(new).to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
    df = pd.DataFrame(rows)
    print("\n" + df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nwritten to {save('attack_throughput', df, vars(args))}")


if __name__ == "__main__":
    main()
