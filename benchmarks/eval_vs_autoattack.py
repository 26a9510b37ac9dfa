"""Optimist's default robust evaluation against the official AutoAttack (pyautoattack, standard version).

For each zoo model, on the same first N test images and at the model's own threat: clean accuracy, AutoAttack's
robust accuracy, the default evaluation's (``robust_accuracy`` with its defaults, what ``optimist eval``
runs), the gap in points, both wall times and their ratio, all in one process. Goal: every gap <= 0.3 points
(and never below AutoAttack by more than noise) at >= 50x less wall time. Writes
results/eval_vs_autoattack.{csv,json}, with each attack's and stage's breakdown in the JSON.

    python benchmarks/eval_vs_autoattack.py [--n 300] [--models NAME@THREAT,...] [--record]
"""

from __future__ import annotations

import argparse

import pandas as pd

from optimist.core import zoo
from optimist.core.evaluate import robust_accuracy
from timing import save

MODELS = ("fashion-mnist/small-cnn/linf-0.1@linf:0.1,fashion-mnist/small-cnn/fast-linf-0.1@linf:0.1,"
          "fashion-mnist/small-cnn/trades-linf-0.1@linf:0.1,fashion-mnist/small-cnn/l2-1.5@l2:1.5")


def compare_row(model, data, threat: str, *, n: int, label: str) -> tuple[dict, dict]:
    """The default evaluation and the official AutoAttack (standard) on the same first ``n`` images of ``data``:
    one row (accuracies, gap in points, both wall times and their ratio) and the per-stage details."""
    aa = robust_accuracy(model, data, threat, attack="autoattack", n=n)
    ours = robust_accuracy(model, data, threat, n=n)
    assert ours.clean_accuracy == aa.clean_accuracy
    row = {"model": label, "threat": threat, "n": ours.n, "clean": ours.clean_accuracy,
           "autoattack": aa.robust_accuracy, "default": ours.robust_accuracy,
           "gap_points": 100 * (ours.robust_accuracy - aa.robust_accuracy),
           "broken_by_autoattack_only": int((ours.robust_correct & ~aa.robust_correct).sum()),
           "broken_by_default_only": int((aa.robust_correct & ~ours.robust_correct).sum()),
           "autoattack_s": aa.seconds, "default_s": ours.seconds, "speedup": aa.seconds / ours.seconds}
    return row, {"model": label, "autoattack": aa.summary(), "default": ours.summary(),
                 "stages": {"autoattack": [(s["stage"], s["attacked"], s["broke"]) for s in aa.stages],
                            "default": [(s["stage"], s["attacked"], s["broke"]) for s in ours.stages]}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=300, help="test images (default: %(default)s; the issue asks 1000)")
    p.add_argument("--models", default=MODELS, help="comma-separated NAME@THREAT (default: the four of issue 16)")
    p.add_argument("--record", action="store_true", help="store AutoAttack's result in each model's card")
    args = p.parse_args()
    rows, details = [], []
    for item in args.models.split(","):
        name, threat = item.split("@")
        model = zoo.get(name)
        test = zoo.load_data(zoo.recipe(name), "test")
        row, detail = compare_row(model, test, threat, n=args.n, label=name.split("/")[-1])
        rows.append(row)
        details.append({**detail, "model": name})
        print(row, flush=True)
        print("  AutoAttack:", detail["stages"]["autoattack"], flush=True)
        print("  default:   ", detail["stages"]["default"], flush=True)
        if args.record:
            zoo.add_evaluation(name, detail["autoattack"])
    df = pd.DataFrame(rows)
    print("\n" + df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nwritten to {save('eval_vs_autoattack', df, {**vars(args), 'details': details})}")


if __name__ == "__main__":
    main()
