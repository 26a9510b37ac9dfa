"""Training throughput and peak memory per method (standard, fast, PGD-k, TRADES), and time to a robust model.

1. Images per second of full training steps (attack + update), run exactly as the training loop runs them
   (channels-last on CPU), on Fashion-MNIST with the small CNN, and the overhead over the theoretical cost:
   (k+1) forward-backward passes for PGD-k and TRADES-k, 2 for fast AT, relative to a standard step.
2. Peak memory of the steps: the growth of resident memory over the process's level before the first step
   (sampled every millisecond; CPU), or the CUDA peak allocation on a GPU. Each method runs in a fresh
   subprocess so one cannot inherit another's peak.
3. With ``--recipe``: wall time of training the zoo's robust default from scratch, and the PGD accuracy it
   reaches (compare with the numbers in the README).

Writes results/training_speed.{csv,json}.

    python benchmarks/training_speed.py [--batches 20] [--steps 5] [--recipe]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

import pandas as pd

from timing import save

CHILD = r"""
import json, os, sys, threading, time, torch
from optimist.core.data import load_dataset, subset
from optimist.core.models import build_for_dataset, channels_last
from optimist.core.train import default_config
from optimist.core.train.methods import method_loss
method, steps, batches, bs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
full = load_dataset("fashion-mnist")
ds = subset(full, bs * (batches + 2), seed=0)
x_all, y_all = ds.images.clone(), ds.targets.clone()
del full, ds
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
torch.manual_seed(0)
m = build_for_dataset("small-cnn", subset(load_dataset("fashion-mnist", "test"), 10).info).train()
cfg = default_config("fashion-mnist", method, attack_steps=steps)
opt = torch.optim.Adam(m.parameters(), 1e-3)
def step(i):
    x, y = x_all[i * bs:(i + 1) * bs], y_all[i * bs:(i + 1) * bs]
    loss, _, _ = method_loss(m, m, x, y, cfg)
    opt.zero_grad(); loss.backward(); opt.step()
peak, done = [0], [False]
def sample():
    while not done[0]:
        peak[0] = max(peak[0], rss()); time.sleep(0.001)
with channels_last(m):
    step(0); step(1)
    base = rss()
    t = threading.Thread(target=sample); t.start()
    t0 = time.perf_counter()
    for i in range(2, batches + 2):
        step(i)
    dt = time.perf_counter() - t0
    done[0] = True; t.join()
print(json.dumps({"images_per_s": batches * bs / dt, "peak_rss_growth_mb": max(peak[0] - base, 0) / 2**20}))
"""

PASSES = {"standard": 1, "fast": 2, "pgd": None, "trades": None}


def _recipe_time(name: str) -> dict:
    """Train the zoo recipe ``name`` from scratch into a temporary folder and evaluate it as the zoo does."""
    from optimist.core import zoo

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        model = zoo.train_recipe(zoo.recipe(name), tmp, progress=False)
        train_and_eval = time.perf_counter() - t0
    ev = model.card["evaluation"]
    row = {"recipe": name, "seconds_train_and_eval": train_and_eval, "clean_accuracy": ev["clean_accuracy"]}
    for r in ev["robust"]:
        row[f"robust {r['threat']}"] = r["robust_accuracy"]
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3, help="fresh subprocesses per method; the median is kept")
    p.add_argument("--recipe", action="store_true", help="also time the zoo's robust default from scratch (~2 min)")
    args = p.parse_args()
    runs: dict[str, list[dict]] = {m: [] for m in PASSES}
    for _ in range(args.repeats):  # interleaved, so machine noise hits every method alike
        for method in PASSES:
            out = subprocess.run([sys.executable, "-c", CHILD, method, str(args.steps), str(args.batches),
                                  str(args.batch_size)], capture_output=True, text=True, check=True)
            runs[method].append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows = []
    for method, rs in runs.items():
        ips = sorted(r["images_per_s"] for r in rs)[len(rs) // 2]
        mem = max(r["peak_rss_growth_mb"] for r in rs)
        rows.append({"method": method if method not in ("pgd", "trades") else f"{method}-{args.steps}",
                     "theoretical_passes": PASSES[method] or args.steps + 1, "images_per_s": ips,
                     "peak_rss_growth_mb": mem})
    df = pd.DataFrame(rows)
    std = df.loc[df.method == "standard", "images_per_s"].item()
    df["slowdown_vs_standard"] = std / df["images_per_s"]
    df["overhead_vs_theory"] = df["slowdown_vs_standard"] / df["theoretical_passes"]
    print(df.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"\nwritten to {save('training_speed', df, vars(args))}")
    if args.recipe:
        rec = pd.DataFrame([_recipe_time("fashion-mnist/small-cnn/linf-0.1")])
        print("\n" + rec.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print(f"written to {save('training_recipe_time', rec, vars(args))}")


if __name__ == "__main__":
    main()
