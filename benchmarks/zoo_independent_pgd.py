"""The shipped L-inf 0.1 model under an independent PGD-20 (torchattacks) on the whole Fashion-MNIST test set.

    python benchmarks/zoo_independent_pgd.py

torchattacks' PGD (eps 0.1, step 0.01, 20 steps, random start) is not the attack the card's cascade runs, so it
checks the card's robust accuracy with an instrument Optimist did not write; the standard model is the control.
"""

from __future__ import annotations

import time

import torch
import torchattacks

from optimist.core import zoo
from optimist.core.data import load_dataset


def main() -> None:
    test = load_dataset("fashion-mnist", "test")
    torch.manual_seed(0)
    for name in ("fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/linf-0.1"):
        model = zoo.get(name, progress=False)
        attack = torchattacks.PGD(model, eps=0.1, alpha=0.01, steps=20, random_start=True)
        start, clean, robust = time.perf_counter(), 0, 0
        for lo in range(0, len(test), 1000):
            x, y = test.images[lo:lo + 1000], test.targets[lo:lo + 1000]
            with torch.no_grad():
                clean += (model(x).argmax(1) == y).sum().item()
            robust += (model(attack(x, y)).argmax(1) == y).sum().item()
        n = len(test)
        print(f"{name}: clean {clean / n:.4f}, torchattacks PGD-20 L-inf 0.1 {robust / n:.4f} "
              f"({n} test images, {time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
