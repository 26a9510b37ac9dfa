"""``python -m optimist.interpretability``: the demo with its larger settings reachable from a shell.

``optimist demo interpretability`` runs the default settings; this entry point also takes the options
that ``optimist demo`` has no flags for, e.g. ``--ladder all`` for the zoo's full L∞ and L2 ladders.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from optimist.core.demo import DemoOptions, run_demos

    p = argparse.ArgumentParser(prog="python -m optimist.interpretability", description=__doc__)
    p.add_argument("--out", default="optimist-report-interpretability", help="report folder (default: %(default)s)")
    p.add_argument("--ladder", default="default", choices=["default", "linf", "l2", "all"],
                   help="models: default (standard, L∞ 0.05, L∞ 0.1) or a full zoo ladder (trains missing models)")
    p.add_argument("--n", type=int, help="images scored (default 96)")
    p.add_argument("--steps", type=int, help="deletion/insertion steps (default 20)")
    p.add_argument("--sensitivity-n", type=int, help="images for max-sensitivity (default 12)")
    p.add_argument("--methods", nargs="+", help="attribution methods (default: all five)")
    p.add_argument("--target", choices=["predicted", "label"], default="predicted")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--zoo-root", default=None)
    args = p.parse_args(argv)
    extra = {"ladder": args.ladder, "target": args.target}
    for key in ("n", "steps", "methods", "sensitivity_n"):
        if getattr(args, key) is not None:
            extra[key] = getattr(args, key)
    opts = DemoOptions(out_dir=Path(args.out), seed=args.seed, device=args.device, quick=args.quick,
                       zoo_root=Path(args.zoo_root) if args.zoo_root else None, extra=extra)
    print(f"Report written to {run_demos(['interpretability'], opts, title='Optimist: interpretability').resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
