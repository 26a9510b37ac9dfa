"""Optimist's default robust evaluation (cascade PGD with restarts) against AutoAttack (standard version).

Both on the zoo's robust model and the same first N test images: robust accuracy and wall time. Goal:
AutoAttack's number within 1 point, at a fraction of its time. Writes results/eval_vs_autoattack.{csv,json}.

    python benchmarks/eval_vs_autoattack.py [--n 1000] [--model fashion-mnist/small-cnn/linf-0.1]
"""

from __future__ import annotations

import argparse

import pandas as pd

from optimist.core import zoo
from optimist.core.data import load_dataset
from optimist.core.evaluate import robust_accuracy
from timing import save


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--model", default="fashion-mnist/small-cnn/linf-0.1")
    p.add_argument("--threat", default="linf:0.1")
    p.add_argument("--configs", default="ce:20x1,ce+margin:20x1,ce+margin:20x1:t3,ce+margin:50x2:t3",
                   help="PGD cascades to try, LOSSES:STEPSxRESTARTS[:tTARGETS]; the library default is ce+margin:20x1")
    args = p.parse_args()
    model = zoo.get(args.model)
    test = load_dataset("fashion-mnist", "test")
    rows = []
    for cfg in args.configs.split(","):
        parts = cfg.split(":")
        losses = parts[0].split("+")
        steps, restarts = map(int, parts[1].split("x"))
        targets = int(parts[2][1:]) if len(parts) > 2 else 0
        r = robust_accuracy(model, test, args.threat, steps=steps, restarts=restarts, n=args.n, losses=losses,
                            targets=targets)
        label = f"optimist PGD-{steps} x{restarts} [{'+'.join(losses)}]" + (f" + {targets} targeted" if targets else "")
        rows.append({"evaluation": label,
                     "clean": r.clean_accuracy, "robust": r.robust_accuracy, "seconds": r.seconds})
        print(rows[-1], flush=True)
    aa = robust_accuracy(model, test, args.threat, attack="autoattack", n=args.n)
    rows.append({"evaluation": "AutoAttack standard (torchattacks)", "clean": aa.clean_accuracy,
                 "robust": aa.robust_accuracy, "seconds": aa.seconds})
    df = pd.DataFrame(rows)
    df["gap_to_autoattack_points"] = 100 * (df["robust"] - aa.robust_accuracy)
    df["speedup_vs_autoattack"] = aa.seconds / df["seconds"]
    print("\n" + df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nwritten to {save('eval_vs_autoattack', df, vars(args))}")
    zoo.add_evaluation(args.model, aa.summary())
    print(f"AutoAttack result recorded in the card of {args.model}")


if __name__ == "__main__":
    main()
