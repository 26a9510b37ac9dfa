"""``optimist APPLICATION --model LABEL=SPEC ... --data SPEC --out DIR``: one subcommand per installed application.

Subcommands come from the ``optimist.applications`` entry points; an application is imported only when its
subcommand runs (or its ``--help`` is asked for), so the rest of the CLI stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import entry_points
from pathlib import Path

from optimist.core.application import GROUP, Application, settings_help
from optimist.core.errors import InputError
from optimist.core.ranks import join, leave, world
from optimist.core.runtime import resolve_device

# torchrun's own parser reads ``--n`` as an ambiguous abbreviation of --nnodes, --nproc-per-node, ... and stops;
# ``--images`` is a prefix of none of its options, so torchrun passes it through to the command.
IMAGES_UNDER_TORCHRUN = ("--n is the same flag, but under torchrun write --images (torchrun reads --n as an "
                         "abbreviation of its own options)")


def application_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


def _load(name: str) -> Application:
    eps = {ep.name: ep for ep in entry_points(group=GROUP)}
    app = eps[name].load()
    if not isinstance(app, Application):
        raise TypeError(f"entry point {name} is not an optimist.core.application.Application")
    return app


def parse_settings(items: list[str] | None) -> dict:
    """``["stride=1", "models=[\\"a\\"]"]`` -> {"stride": 1, "models": ["a"]} (JSON values, else text)."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise InputError(f"--set takes KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def parse_models(items: list[str]) -> dict[str, str]:
    """``["std=zoo:NAME", "rob=robustbench:F.pt:resnet18"]`` -> {label: spec}, labels unique."""
    out: dict[str, str] = {}
    for item in items:
        label, sep, spec = item.partition("=")
        if not sep or not label or not spec:
            raise InputError(f"--model takes LABEL=SPEC (e.g. --model robust=zoo:fashion-mnist/small-cnn/linf-0.1), "
                             f"got {item!r}")
        if label in out:
            raise InputError(f"--model label {label!r} is given twice; each model needs its own label")
        out[label] = spec
    return out


def _run(args) -> int:
    app = _load(args.application)
    models = parse_models(args.model)
    settings = parse_settings(args.set)
    if args.n is not None:
        if "n" in settings:
            raise InputError("give the number of images once: --images (or --n) or --set n=..., not both")
        settings["n"] = args.n
    app.settings.from_mapping(settings)  # unknown keys and bad values fail before any model loads
    # under torchrun every process runs this; the per-image work is shared out, and rank 0 alone writes
    device, opened = join(resolve_device(args.device))
    try:
        rank, _ = world()
        result = app.compare(models, args.data, device=device, seed=args.seed,
                             progress=not args.no_progress and rank == 0, **settings)
        if rank != 0:
            return 0
        result.settings["command"] = ["optimist", *sys.argv[1:]] if sys.argv and "optimist" in sys.argv[0] \
            else ["optimist", args.application]
        path = result.save(args.out)
    finally:
        leave(opened)
    print(result.table.to_string(index=False, max_rows=40))
    print(f"Report written to {Path(path).resolve()}")
    return 0


def _add(sub, name: str, app: Application | None) -> None:
    description = (app.description if app else f"Run the {name} application on your models and data.") + (
        " Writes table.csv, per_example.csv, settings.json, figures and index.html to --out.")
    p = sub.add_parser(name, help=(app.description.split(".")[0] if app else f"the {name} application"),
                       description=description, epilog=settings_help(app.settings) if app else None,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, metavar="LABEL=SPEC",
                   help="a model to compare, e.g. std=zoo:fashion-mnist/small-cnn/standard or "
                        "aa=robustbench:model_test.pt:resnet18 (repeat for each model)")
    p.add_argument("--data", default=app.demo_data if app else "fashion-mnist", metavar="SPEC",
                   help="a data spec: fashion-mnist, digits, cifar10:ROOT, imagefolder:PATH, tensors:FILE "
                        "(default: %(default)s)")
    p.add_argument("--images", "--n", dest="n", type=int, default=None, metavar="N",
                   help=f"number of test images (the setting n); {IMAGES_UNDER_TORCHRUN}")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a setting (JSON value); see below")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the run's own random generator (default: 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--out", required=True, help="output folder for the report, tables, figures and settings")
    p.set_defaults(fn=_run, application=name)


def add_application_commands(sub, argv: list[str] | None = None) -> None:
    """One subcommand per installed application; the one named in ``argv`` is loaded for a full ``--help``."""
    first = next((a for a in (argv or []) if not a.startswith("-")), None)
    for name in application_names():
        _add(sub, name, _load(name) if name == first else None)
