"""The ``optimist`` command: demo, train, eval, zoo."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from optimist.core.errors import CountError, InputError, ShardError
from optimist.core.threads import configure_threads

DESCRIPTION = """\
Optimist: what adversarial robustness is good for, with working code and measured results.

  optimist demo                 run every installed application's demo into one HTML report
  optimist train ...            train a model (standard, PGD-AT, TRADES, fast AT); works under torchrun
  optimist eval ...             clean and robust accuracy of any model spec on any data spec
  optimist import SPEC --out D  a RobustBench / MadryLab / torchvision / python model as an Optimist checkpoint
  optimist APPLICATION ...      one application on your models: interpretability, generation, transfer, ...
  optimist zoo list|get|verify|recipes|audit  the zoo: shipped and cached models, how they were made
"""


def _parse_settings(items: list[str] | None) -> dict:
    """``--set KEY=VALUE`` items as a dict (JSON values, else text); one parser for demos and applications."""
    from optimist.core.cli_apps import parse_settings  # lazy: load only what runs

    return parse_settings(items)


def _at_least(args, minimum: int = 1, **fields) -> None:
    """``--name N`` values below ``minimum`` are refused (``--images 0`` would evaluate nothing)."""

    for flag, value in fields.items():
        if value is not None and value < minimum:
            raise CountError(f"--{flag.replace('_', '-')} must be >= {minimum}, got {value}", field=flag, value=value)


def _demo(args) -> int:
    from optimist.core.demo import DemoOptions, available_demos, run_demos  # lazy: load only what runs
    from optimist.core.runtime import resolve_device  # lazy: load only what runs

    resolve_device(args.device)
    if args.list:
        for name in available_demos():
            print(name)
        return 0
    opts = DemoOptions(out_dir=Path(args.out), seed=args.seed, device=args.device, quick=args.quick,
                       zoo_root=Path(args.zoo_root) if args.zoo_root else None, extra=_parse_settings(args.set))
    path = run_demos(args.names or None, opts)
    print(f"Report written to {path.resolve()}")
    return 0


def _train(args) -> int:
    import torch

    from optimist.core.data import load_dataset, subset  # lazy: load only what runs
    from optimist.core.models import build_for_dataset  # lazy: load only what runs
    from optimist.core.runtime import resolve_device  # lazy: load only what runs
    from optimist.core.train import default_config, train  # lazy: load only what runs

    if args.device is not None:
        resolve_device(args.device)
    _at_least(args, epochs=args.epochs, batch_size=args.batch_size, attack_steps=args.attack_steps,
              subset=args.subset)
    overrides = {k: v for k, v in {
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
        "attack_steps": args.attack_steps, "trades_beta": args.beta, "optimizer": args.optimizer,
        "schedule": args.schedule}.items() if v is not None}
    cfg = default_config(args.dataset, args.method, args.threat, **overrides)
    data = load_dataset(args.dataset, "train", root=args.data_root)
    if args.classes:
        data = subset(data, classes=[int(c) for c in args.classes.split(",")])
    if args.subset:
        data = subset(data, args.subset, seed=cfg.seed)
    torch.manual_seed(cfg.seed)
    model = build_for_dataset(args.model, data.info)
    card = {"dataset": {"name": args.dataset, "classes": list(data.info.class_names), "train_size": len(data)}}
    result = train(model, data, cfg, run_dir=args.out, resume=args.resume, card=card, device=args.device)
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        print(f"Trained {args.model} on {args.dataset} ({cfg.method}, {cfg.threat or 'no threat'}); "
              f"checkpoint in {Path(args.out).resolve()}")
        if result.history:
            print(json.dumps(result.history[-1]))
    return 0


def _load_for_eval(spec: str):
    """(model, zoo name or None) for any model spec (see ``optimist.core.specs.resolve_model``)."""
    from optimist.core import zoo  # lazy: load only what runs
    from optimist.core.specs import resolve_model as resolve  # lazy: load only what runs

    model = resolve(spec)
    bare = spec[4:] if spec.startswith("zoo:") else spec
    return model, (bare if bare in zoo.recipes() and not Path(spec).expanduser().exists() else None)


def _import(args) -> int:
    from optimist.core.checkpoints import save_model  # lazy: load only what runs
    from optimist.core.specs import resolve_model as resolve  # lazy: load only what runs

    model = resolve(args.spec)
    card = {"imported_from": args.spec}
    path = save_model(args.out, model, card)
    print(f"Imported {args.spec} as {model.config()['arch']} ({model.num_classes} classes, {model.in_channels}x"
          f"{model.image_size}x{model.image_size}) into {Path(path).resolve()}")
    return 0


def _eval(args) -> int:
    from optimist.core import zoo  # lazy: load only what runs
    from optimist.core.data import load_dataset, subset  # lazy: load only what runs
    from optimist.core.evaluate import robust_accuracy  # lazy: load only what runs

    _at_least(args, images=args.n, steps=args.steps, restarts=args.restarts, batch_size=args.batch_size)
    model, zoo_name = _load_for_eval(args.model)
    if args.record and not zoo_name:
        raise InputError(f"--record stores the result in a zoo model's card, and {args.model!r} is not a zoo model; "
                         "drop --record (the result is printed)")
    card = getattr(model, "card", {}) or {}
    if args.data:
        from optimist.core.specs import resolve_data  # lazy: load only what runs

        if args.dataset or args.data_root:
            raise InputError("pass either --data SPEC or --dataset/--data-root, not both")
        data = resolve_data(args.data, split="test")
    else:
        dataset = args.dataset or card.get("dataset", {}).get("name")
        if not dataset:
            raise InputError(f"the model {args.model!r} names no dataset; pass --data SPEC (e.g. --data "
                             "tensors:FILE or --data cifar10:ROOT)")
        data = load_dataset(dataset, "test", root=args.data_root)
        subset_classes = card.get("dataset", {}).get("class_subset")
        if subset_classes:
            data = subset(data, classes=subset_classes)
    from optimist.core.application import check_compatible  # lazy: load only what runs

    check_compatible({args.model: model}, data)
    from optimist.core.train.distributed import setup, teardown  # lazy: load only what runs

    losses = tuple(x.strip() for x in args.losses.split(",") if x.strip())  # robust_accuracy checks the names
    aa_attacks = [a.strip() for a in args.autoattack_attacks.split(",") if a.strip()] \
        if args.autoattack_attacks else None
    if aa_attacks and args.autoattack_version == "standard":
        args.autoattack_version = "custom"  # naming the attacks picks a custom subset
    attacks = ["pgd"] + (["autoattack"] if args.autoattack or aa_attacks else [])
    ctx = setup()  # under torchrun: the examples are shared out across the ranks, the counts gathered
    try:
        if ctx.world_size > 1:
            model = model.to(ctx.device)
        for attack in attacks:
            res = robust_accuracy(model, data, args.threat, attack=attack, steps=args.steps,
                                  restarts=args.restarts, n=args.n, batch_size=args.batch_size, seed=args.seed,
                                  losses=losses, targets=args.targets, target_loss=args.target_loss,
                                  schedule=args.schedule, square_queries=args.square_queries,
                                  autoattack_version=args.autoattack_version, autoattack_attacks=aa_attacks,
                                  progress=ctx.is_main)
            if not ctx.is_main:
                continue
            s = res.summary()
            print(f"{attack:>10} {s['threat']}: clean {s['clean_accuracy']:.2%}  robust {s['robust_accuracy']:.2%}  "
                  f"(n={s['n']}, {s['seconds']:.0f} s" + (f", {ctx.world_size} processes)" if ctx.world_size > 1
                                                          else ")"))
            for st in res.stages:
                print(f"{'':>12}{st['stage']}: broke {st['broke']} of {st['attacked']} ({st['seconds']:.1f} s)")
            if zoo_name and args.record:
                zoo.add_evaluation(zoo_name, s)
    finally:
        teardown(ctx)
    return 0


def _zoo(args) -> int:
    import pandas as pd

    from optimist.core import zoo  # lazy: load only what runs

    if args.action == "recipes":
        rows = [{"name": n, "method": r.config.method, "threat": r.config.threat, "epochs": r.config.epochs,
                 "about": r.about} for n, r in zoo.recipes().items()]
        print(pd.DataFrame(rows).to_string(index=False))
    elif args.action == "list":
        rows = zoo.cached()
        if not rows:
            print(f"No shipped or cached models (cache: {zoo.zoo_dir()}). Install optimist-zoo (`make setup`) or "
                  "train one with `optimist zoo get NAME`.")
        else:
            print(pd.DataFrame(rows).to_string(index=False))
    elif args.action == "audit":
        from optimist.core.audit import audit  # lazy: load only what runs

        rows = audit(args.name or None, n=args.n, version=args.autoattack_version)
        if not rows:
            print(f"No shipped or cached robust models (cache: {zoo.zoo_dir()}). Train one with "
                  "`optimist zoo get NAME`.")
        else:
            print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
            print("AutoAttack results of cached models are recorded in their cards (`optimist zoo list`); shipped "
                  "cards record the audit made before they shipped.")
    elif args.action == "get":
        for name in args.name:
            zoo.recipe(name)  # an unknown name fails before any work
        for name in args.name:
            model = zoo.get(name)
            where, folder = zoo.source(name)
            print(f"{name}: {where}, {folder}")
            print("  " + ", ".join(f"{k} {v:.4f}" for k, v in zoo.card_numbers(model.card).items()
                                   if v is not None))
    elif args.action == "verify":
        out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="optimist-verify-"))
        for name in args.name:
            rows = zoo.verify(name, out, progress=True)
            print(f"{name}: retrained into {zoo.model_dir(name, out)}")
            print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    from optimist.core.cli_apps import IMAGES_UNDER_TORCHRUN  # lazy: load only what runs
    from optimist.core.models import available_models  # lazy: load only what runs
    from optimist.core.train import METHODS  # lazy: load only what runs

    p = argparse.ArgumentParser(prog="optimist", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Every command takes --debug (show tracebacks) and --threads N (CPU threads; "
                                       "default: $OPTIMIST_THREADS, else the cores this process may use). "
                                       "optimist --version lists the installed Optimist packages.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("demo", help="run the showcase and write an HTML report",
                       description="Run each installed application's demo (or the NAMES given) on Fashion-MNIST "
                                   "and write a self-contained HTML report with figures, tables and settings. "
                                   "Models come from the zoo: trained on first use (about 10 min on 2 CPU cores), "
                                   "cached afterwards under $OPTIMIST_HOME (default ~/.cache/optimist).")
    d.add_argument("names", nargs="*", help="demos to run (default: all installed; see --list)")
    d.add_argument("--out", default="optimist-report", help="output folder (default: %(default)s)")
    d.add_argument("--list", action="store_true", help="list installed demos and exit")
    d.add_argument("--quick", action="store_true", help="tiny settings: a smoke run, not results")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--device", default="cpu", help="torch device, e.g. cuda (default: %(default)s)")
    d.add_argument("--zoo-root", default=None, help="zoo cache folder (default: $OPTIMIST_HOME/zoo)")
    d.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a demo setting (JSON value), e.g. --set stride=1; each demo documents its keys")
    d.set_defaults(fn=_demo)

    t = sub.add_parser("train", help="train a standard or robust model",
                       description="Train a model with a method and threat; checkpoints every epoch into --out "
                                   "(safetensors + JSON card). Run under `torchrun --nproc_per_node=N` for "
                                   "DistributedDataParallel. --resume continues an interrupted run.")
    t.add_argument("--dataset", default="fashion-mnist")
    t.add_argument("--data-root", default=None, help="dataset folder (torchvision layout)")
    t.add_argument("--model", default="small-cnn", choices=available_models())
    t.add_argument("--method", default="standard", choices=METHODS)
    t.add_argument("--threat", default=None, help="NORM:EPS, e.g. linf:0.1 or l2:1.5 (default: the dataset's)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--optimizer", choices=("adam", "sgd"))
    t.add_argument("--schedule", choices=("cosine", "cyclic", "constant"))
    t.add_argument("--attack-steps", type=int, help="PGD steps for pgd/trades training")
    t.add_argument("--beta", type=float, help="TRADES beta")
    t.add_argument("--seed", type=int)
    t.add_argument("--subset", type=int, metavar="N", help="train on a random subset of N images")
    t.add_argument("--classes", help="train on these classes only, e.g. 0,1,2,3,4")
    t.add_argument("--device", default=None)
    t.add_argument("--out", required=True, help="run folder for checkpoints")
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.set_defaults(fn=_train)

    e = sub.add_parser("eval", help="clean and robust accuracy of a model",
                       description="Evaluate a checkpoint (path) or zoo model (name) on its test set: clean "
                                   "accuracy and robust accuracy under the default cascade (APGD on "
                                   "cross-entropy, targeted APGD toward --targets classes, then a gradient-free "
                                   "Square-style search, each stage on the survivors of the last), plus the "
                                   "official AutoAttack with --autoattack (needs optimist-core[eval]). Under "
                                   "`torchrun --nproc_per_node=N -m optimist.core.cli eval ...` the examples are "
                                   "shared out across the processes.")
    e.add_argument("--model", required=True, metavar="SPEC",
                   help="a model spec: zoo name, checkpoint folder/.safetensors, robustbench:FILE[:ARCH], "
                        "robustness:FILE[:ARCH], torchvision:NAME[:WEIGHTS], python:module:factory[:WEIGHTS]")
    e.add_argument("--data", default=None, metavar="SPEC",
                   help="a data spec: fashion-mnist, digits, mnist:ROOT, cifar10:ROOT, imagefolder:PATH, "
                        "tensors:FILE (default: the dataset in the model card)")
    e.add_argument("--threat", required=True, help="NORM:EPS, e.g. linf:0.1")
    e.add_argument("--dataset", default=None, help="a dataset name (older form of --data)")
    e.add_argument("--data-root", default=None)
    from optimist.core import evaluate as ev  # lazy: load only what runs

    e.add_argument("--steps", type=int, default=ev.DEFAULT_STEPS,
                   help="steps per gradient stage (default: %(default)s)")
    e.add_argument("--restarts", type=int, default=1)
    e.add_argument("--losses", default=",".join(ev.DEFAULT_LOSSES),
                   help="untargeted stages, in order, each on the survivors of the last: ce, margin, dlr "
                        "(default: %(default)s)")
    e.add_argument("--targets", type=int, default=ev.DEFAULT_TARGETS,
                   help="then targeted stages toward each of the K likeliest wrong classes (default: %(default)s)")
    e.add_argument("--target-loss", default=ev.DEFAULT_TARGET_LOSS, choices=("margin-targeted", "dlr-targeted"),
                   help="loss of the targeted stages (default: %(default)s)")
    e.add_argument("--schedule", default="apgd", choices=("apgd", "fixed"),
                   help="step schedule of the gradient stages (default: %(default)s)")
    e.add_argument("--square-queries", type=int, default=ev.DEFAULT_SQUARE_QUERIES,
                   help="budget of the gradient-free stage, 0 to skip it (default: %(default)s)")
    e.add_argument("--images", "--n", "--examples", dest="n", type=int, default=1000, metavar="N",
                   help=f"number of test images (default: %(default)s); {IMAGES_UNDER_TORCHRUN}")
    e.add_argument("--batch-size", type=int, default=256)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--autoattack", action="store_true", help="also run the official AutoAttack (pyautoattack)")
    e.add_argument("--autoattack-version", default="standard", choices=ev.AUTOATTACK_VERSIONS,
                   help="AutoAttack version (default: %(default)s)")
    e.add_argument("--autoattack-attacks", default=None, metavar="A,B",
                   help="a custom AutoAttack subset, e.g. apgd-ce,square (implies --autoattack and version custom)")
    e.add_argument("--record", action="store_true", help="store the result in the zoo model's card")
    e.set_defaults(fn=_eval)

    i = sub.add_parser("import", help="import any model spec as an Optimist checkpoint",
                       description="Read a model spec (robustbench:FILE[:ARCH], robustness:FILE[:ARCH], "
                                   "torchvision:NAME[:WEIGHTS], python:module:factory[:WEIGHTS], a zoo name or a "
                                   "checkpoint) and write an Optimist checkpoint (safetensors + card) to --out. "
                                   "Files are read as tensors only (weights_only); the architecture is guessed "
                                   "from the file's layout when ARCH is omitted.")
    i.add_argument("spec", help="the model spec, e.g. robustbench:Carmon2019Unlabeled.pt:wrn-28-10")
    i.add_argument("--out", required=True, help="checkpoint folder to write")
    i.set_defaults(fn=_import)

    from optimist.core.cli_apps import add_application_commands  # lazy: load only what runs

    add_application_commands(sub, argv)

    z = sub.add_parser("zoo", help="list, train or fetch zoo models",
                       description="The model zoo: standard and robust models trained by a recipe on first use and "
                                   "cached under $OPTIMIST_HOME/zoo with their model cards.")
    zs = z.add_subparsers(dest="action", metavar="ACTION", required=True)
    zs.add_parser("list", help="shipped and cached models with their accuracies",
                  description="Every zoo model that loads without training - shipped with optimist-zoo or cached "
                              "under $OPTIMIST_HOME/zoo (the 'where' column says which) - with the clean and robust "
                              "accuracies its card records."
                  ).set_defaults(fn=_zoo, name=[])
    zs.add_parser("recipes", help="every known model and how it is trained",
                  description="Every zoo recipe: name, training method, threat, epochs and what it is for."
                  ).set_defaults(fn=_zoo, name=[])
    zg = zs.add_parser("get", help="load shipped models, or train and cache the others",
                       description="Load each NAME: shipped with optimist-zoo (read in place, its SHA-256 checked; "
                                   "seconds), else from the cache, else trained by its recipe first (minutes on a "
                                   "CPU) and cached. Prints where it came from and its card's accuracies.")
    zg.add_argument("name", nargs="+", metavar="NAME", help="zoo names, see `optimist zoo recipes`")
    zg.set_defaults(fn=_zoo)
    zv = zs.add_parser("verify", help="retrain a shipped model from scratch and compare with its card",
                       description="Retrain each shipped NAME from scratch with its recipe and seed (the CPU time "
                                   "its card's training took: minutes to an hour), then print the shipped card's "
                                   "numbers beside the retrained ones.")
    zv.add_argument("name", nargs="+", metavar="NAME", help="shipped zoo names, see `optimist zoo list`")
    zv.add_argument("--out", default=None, help="folder to retrain into (default: a new temporary folder)")
    zv.set_defaults(fn=_zoo)
    za = zs.add_parser("audit", help="run the official AutoAttack on cached robust models",
                       description="Run the official AutoAttack on cached robust models (default: all of them) and "
                                   "record it, with the default evaluation's gap to it, in their cards (never "
                                   "trains).")
    za.add_argument("name", nargs="*", metavar="NAME", help="zoo names (default: every cached robust model)")
    za.add_argument("--images", "--n", dest="n", type=int, default=1000, metavar="N",
                    help=f"number of test images (default: %(default)s); {IMAGES_UNDER_TORCHRUN}")
    za.add_argument("--autoattack-version", default="standard", choices=("standard", "plus", "rand"),
                    help="AutoAttack version (default: %(default)s)")
    za.set_defaults(fn=_zoo)
    return p


def _versions() -> str:
    from importlib.metadata import distributions

    rows = sorted({(d.metadata["Name"], d.version) for d in distributions()
                   if (d.metadata["Name"] or "").lower().startswith("optimist")})
    return "\n".join(f"{name} {version}" for name, version in rows)


def _one_line(e: BaseException) -> str:
    text = " ".join(part.strip() for part in str(e).splitlines() if part.strip())
    return text or type(e).__name__


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    threads = None
    for i, a in enumerate(argv):
        if a == "--threads" or a.startswith("--threads="):
            value = a.split("=", 1)[1] if "=" in a else (argv[i + 1] if i + 1 < len(argv) else "")
            del argv[i:i + (1 if "=" in a else 2)]
            try:
                threads = int(value)
            except ValueError:
                print(f"optimist: error: --threads takes a positive integer, got {value!r}", file=sys.stderr)
                return 2
            break
    if "--version" in argv[:1]:
        print(_versions())
        return 0
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "fn", None):
        parser.print_help()
        return 0

    try:
        configure_threads(threads)
        return args.fn(args)
    except ShardError:
        if debug:
            raise
        return 2  # another process failed and printed its own one-line error
    except (ValueError, FileNotFoundError, ImportError, OSError) as e:
        if debug:
            raise
        print(f"optimist: error: {_one_line(e)} (run with --debug for the traceback)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("optimist: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
