"""Training throughput and peak memory per method: standard, fast, PGD-k, TRADES.

Images per second of full training steps (attack + update) on Fashion-MNIST with the small CNN, and the
overhead over the theoretical cost ((k+1) forward-backward passes for PGD-k relative to standard).
Peak memory is the resident-set growth of a fresh subprocess per method (CPU) or CUDA peak allocation.
Writes results/training_speed.{csv,json}.

    python benchmarks/training_speed.py [--batches 20] [--steps 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pandas as pd

from timing import save

CHILD = r"""
import json, resource, sys, time, torch
from optimist.core.data import load_dataset, subset
from optimist.core.models import build_for_dataset
from optimist.core.train import default_config
from optimist.core.train.methods import method_loss
method, steps, batches, bs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ds = subset(load_dataset("fashion-mnist"), bs * (batches + 2), seed=0)
torch.manual_seed(0)
m = build_for_dataset("small-cnn", ds.info).train()
cfg = default_config("fashion-mnist", method, attack_steps=steps)
opt = torch.optim.Adam(m.parameters(), 1e-3)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def step(i):
    x, y = ds.images[i * bs:(i + 1) * bs], ds.targets[i * bs:(i + 1) * bs]
    loss, _, _ = method_loss(m, m, x, y, cfg)
    opt.zero_grad(); loss.backward(); opt.step()
step(0); step(1)
t0 = time.perf_counter()
for i in range(2, batches + 2):
    step(i)
dt = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"images_per_s": batches * bs / dt, "peak_rss_growth_mb": (peak - base) / 1024}))
"""

PASSES = {"standard": 1, "fast": 2, "pgd": None, "trades": None}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args()
    rows = []
    for method in ("standard", "fast", "pgd", "trades"):
        out = subprocess.run([sys.executable, "-c", CHILD, method, str(args.steps), str(args.batches),
                              str(args.batch_size)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        passes = PASSES[method] or args.steps + 1
        rows.append({"method": method if method not in ("pgd", "trades") else f"{method}-{args.steps}",
                     "theoretical_passes": passes, **r})
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    std = df.loc[df.method == "standard", "images_per_s"].item()
    df["slowdown_vs_standard"] = std / df["images_per_s"]
    df["overhead_vs_theory"] = df["slowdown_vs_standard"] / df["theoretical_passes"]
    print("\n" + df.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"\nwritten to {save('training_speed', df, vars(args))}")


if __name__ == "__main__":
    main()
