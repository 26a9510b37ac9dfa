"""Train the zoo's shipped recipes into a folder, resumably (a one-off that takes CPU hours).

    OMP_NUM_THREADS=1 python scripts/train_zoo.py --root /work/zoo-train fashion-mnist/small-cnn/linf-0.1

Each recipe trains with its own seed, checkpoints every epoch and resumes where an interrupted run stopped;
its card gets the held-out learning curve (in ``training.history``), the test-set evaluation and, for a robust
model, the official AutoAttack on the first 1,000 test images (``optimist zoo audit``). Run again on finished
models, it only audits what is not audited yet. With no names,
every recipe tagged "shipped" is trained, one after the other. ``scripts/ship_zoo.py`` then copies the finished
models into ``packages/zoo``.
"""

from __future__ import annotations

import argparse
import time

import torch

from optimist.core import zoo
from optimist.core.audit import audit
from optimist.core.checkpoints import read_card


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="recipes to train (default: every shipped recipe)")
    parser.add_argument("--root", required=True, help="the zoo folder to train into (not the package)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for this job (default 1)")
    parser.add_argument("--audit-n", type=int, default=1000, help="test images of the AutoAttack audit of robust "
                                                                  "models (default: %(default)s)")
    parser.add_argument("--no-audit", action="store_true", help="skip the AutoAttack audit")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = args.names or [n for n, r in zoo.recipes().items() if "shipped" in r.tags]
    for name in names:
        start = time.time()
        zoo.get(name, root=args.root, progress=True, shipped=False)
        card = read_card(zoo.model_dir(name, args.root))
        audited = any(e.get("attack") == "autoattack" for e in card.get("extra_evaluations", []))
        if card["training"].get("threat") and not audited and not args.no_audit:
            row = audit([name], n=args.audit_n, root=args.root)[0]
            print(f"[train_zoo] {name}: AutoAttack {row['autoattack']:.4f} vs cascade {row['default']:.4f} "
                  f"(gap {row['gap_points']:+.2f} points, first {args.audit_n} test images)", flush=True)
        ev = card["evaluation"]
        robust = ", ".join(f"{r['threat']} {r['robust_accuracy']:.4f}" for r in ev["robust"])
        print(f"[train_zoo] {name}: clean {ev['clean_accuracy']:.4f}; {robust}; {time.time() - start:.0f} s",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
