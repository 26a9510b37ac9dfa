"""The model zoo: named training recipes; shipped with ``optimist-zoo``, or trained on demand and cached.

``get("fashion-mnist/small-cnn/linf-0.1")`` returns the shipped model (read where the installed ``optimist-zoo``
holds it, its hashes checked), else the model cached under ``$OPTIMIST_HOME/zoo``, else trains it (resuming an
interrupted run), measures its clean and robust accuracy on the test set, writes both into its model card and
caches its final checkpoint. Every application compares models from here, so a robust and a standard model
share data, architecture and budget.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import torch

from optimist.core.attacks import as_threat
from optimist.core.checkpoints import CheckpointError, load_model, load_state, read_card, resolve, save_checkpoint
from optimist.core.data import load_dataset, subset
from optimist.core.errors import InputError
from optimist.core.evaluate import robust_accuracy
from optimist.core.models import Classifier, build_for_dataset
from optimist.core.paths import optimist_home
from optimist.core.runtime import library_versions
from optimist.core.shipped import Shipped, load_shipped
from optimist.core.shipped import shipped as installed
from optimist.core.train import TrainConfig, default_config, train

EVAL_N = 1000
EVAL_STEPS = 20


@dataclass(frozen=True)
class Recipe:
    """How to produce one zoo model."""

    name: str
    dataset: str
    arch: str
    config: TrainConfig
    classes: tuple[int, ...] | None = None
    train_size: int | None = None
    eval_threats: tuple[str, ...] = ()
    about: str = ""
    tags: tuple[str, ...] = field(default=())
    eval_n: int = EVAL_N  # test images of the card's evaluation

    def scaled(self, train_size: int | None = None, epochs: int | None = None,
               eval_n: int | None = None) -> "Recipe":
        """A cheaper variant (tests, previews): fewer images, epochs and/or evaluation images."""
        cfg = self.config if epochs is None else self.config.with_(epochs=epochs)
        return replace(self, config=cfg, train_size=train_size or self.train_size, eval_n=eval_n or self.eval_n)


FMNIST_THREATS = ("linf:0.1", "l2:1.5")
_LADDER = {"linf": (0.025, 0.05, 0.1, 0.2), "l2": (0.5, 1.0, 1.5, 3.0)}
_RECIPES: dict[str, Recipe] = {}


def register(recipe: Recipe) -> Recipe:
    """Add a recipe to the zoo (applications may register their own)."""
    _RECIPES[recipe.name] = recipe
    return recipe


def _fmnist(arch: str, tag: str, method: str, threat: str | None, epochs: int, about: str, *,
            prefix: str = "fashion-mnist", classes=None, seed: int = 0, tags=(), train_size: int | None = None,
            eval_threats: tuple[str, ...] = FMNIST_THREATS, eval_n: int = EVAL_N, **cfg) -> Recipe:
    """Register a Fashion-MNIST recipe; ``cfg`` goes to the training config (``holdout``, ``attack_steps``...)."""
    config = default_config("fashion-mnist", method, threat, epochs=epochs, seed=seed, **cfg)
    return register(Recipe(f"{prefix}/{arch}/{tag}", "fashion-mnist", arch, config, classes=classes,
                           train_size=train_size, eval_threats=eval_threats, about=about, tags=tuple(tags),
                           eval_n=eval_n))


# The shipped models (``optimist-zoo``) are trained until their held-out learning curve has flattened: every
# epoch's record measures 1,000 training images kept out of training (clean and PGD-10 accuracy), and the card
# evaluates the whole test set. They are a one-off that takes CPU hours (``scripts/train_zoo.py``); a user gets
# them from the package in seconds. Recipes that are not shipped (the rest of the ladders, other methods) keep
# the short budget below and train on first use.
ROBUST_EPOCHS = 2
HOLDOUT = 1000
FULL_TEST = 10_000
_SHIPPED = {"holdout": HOLDOUT, "eval_n": FULL_TEST}

# The default pair: every application's standard-vs-robust comparison.
_fmnist("small-cnn", "standard", "standard", None, 30, "standard training, flips and shifts, 30 epochs",
        augment=True, tags=("default", "shipped"), **_SHIPPED)
_fmnist("small-cnn", "linf-0.1", "pgd", "linf:0.1", 20, "PGD-AT, L-inf 0.1, 5 steps, 20 epochs", attack_steps=5,
        tags=("default", "shipped"), **_SHIPPED)
# The rungs the demos use (interpretability's L-inf ladder; generation's L2 models), also shipped.
_fmnist("small-cnn", "linf-0.05", "pgd", "linf:0.05", 12, "PGD-AT, L-inf 0.05, 5 steps, 12 epochs", attack_steps=5,
        tags=("ladder", "shipped"), **_SHIPPED)
for _eps, _epochs in ((1.0, 12), (3.0, 15)):
    _fmnist("small-cnn", f"l2-{_eps:g}", "pgd", f"l2:{_eps:g}", _epochs,
            f"PGD-AT, L2 {_eps:g}, 5 steps, {_epochs} epochs", attack_steps=5, tags=("ladder", "shipped"), **_SHIPPED)
# The rest of the epsilon ladders for sweeps (same architecture, the short budget; trained on first use).
for _norm, _epss in _LADDER.items():
    for _eps in _epss:
        if f"fashion-mnist/small-cnn/{_norm}-{_eps:g}" not in _RECIPES:
            _fmnist("small-cnn", f"{_norm}-{_eps:g}", "pgd", f"{_norm}:{_eps:g}", ROBUST_EPOCHS,
                    f"PGD-AT, {_norm} {_eps:g}, 5 steps", attack_steps=5, tags=("ladder",))
# Other training methods at the short budget.
_fmnist("small-cnn", "trades-linf-0.1", "trades", "linf:0.1", ROBUST_EPOCHS, "TRADES (beta 1), L-inf 0.1, 5 steps",
        attack_steps=5)
_fmnist("small-cnn", "fast-linf-0.1", "fast", "linf:0.1", ROBUST_EPOCHS, "fast AT (FGSM + random start), L-inf 0.1")
# Independent judges, never used to generate: a standard LeNet (another architecture and seed) and a robust
# perceptron (another architecture, seed and threat: L2 2 is no generator's budget), whose verdicts adversarial
# patterns aimed at a small CNN do not buy.
_fmnist("lenet", "evaluator", "standard", None, 10, "independent evaluator (LeNet, seed 7, flips and shifts, 10 "
        "epochs)", seed=7, augment=True,
        eval_threats=("linf:0.1",), tags=("evaluator", "shipped"), **_SHIPPED)
_fmnist("mlp", "robust-judge", "pgd", "l2:2", 30, "independent robust judge (MLP, seed 11, PGD-AT L2 2, 7 steps)",
        seed=11, attack_steps=7, eval_threats=("l2:2", "linf:0.1"), tags=("evaluator", "shipped"), **_SHIPPED)
# Transfer sources: trained on classes 0-4 only (targets use 5-9).
for _tag, _method, _threat in (("standard", "standard", None), ("linf-0.05", "pgd", "linf:0.05"),
                               ("linf-0.1", "pgd", "linf:0.1"), ("l2-1.5", "pgd", "l2:1.5")):
    _fmnist("small-cnn", _tag, _method, _threat, 3 if _method == "standard" else ROBUST_EPOCHS,
            f"source for transfer: classes 0-4, {_tag}", prefix="fashion-mnist-0to4", classes=(0, 1, 2, 3, 4),
            tags=("transfer",), **({"attack_steps": 5} if _method == "pgd" else {}))

# The transfer ladder (Salman et al. 2020; Utrera et al. 2021 at Fashion-MNIST scale): the L2 ladder at one budget
# (1 epoch; L2 PGD-3 for the robust ones) for the small and the wide CNN, on all ten classes or on classes 0-4,
# each with any training seed through the "-seed<k>" suffix (see recipe()). Their cards measure L2 1 robustness
# on the first 500 test images (the evaluation cascade costs as much as the training here).
TRANSFER_LADDER = (0.25, 0.5, 1.0, 2.0)
TRANSFER_EPOCHS = 1
for _prefix, _classes in (("transfer-fashion-mnist", None), ("transfer-fashion-mnist-0to4", (0, 1, 2, 3, 4))):
    _what = "all ten classes" if _classes is None else "classes 0-4"
    for _arch in ("small-cnn", "wide-cnn"):
        _fmnist(_arch, "standard", "standard", None, TRANSFER_EPOCHS, f"transfer-ladder source: {_what}, standard",
                prefix=_prefix, classes=_classes, tags=("transfer-ladder",), eval_threats=("l2:1",), eval_n=500)
        for _eps in TRANSFER_LADDER:
            _fmnist(_arch, f"l2-{_eps:g}", "pgd", f"l2:{_eps:g}", TRANSFER_EPOCHS,
                    f"transfer-ladder source: {_what}, PGD-AT L2 {_eps:g}, 3 steps", prefix=_prefix,
                    classes=_classes, tags=("transfer-ladder",), eval_threats=("l2:1",), eval_n=500,
                    attack_steps=3)

_SEED = re.compile(r"^(?P<base>.+)-seed(?P<seed>\d+)$")


@contextlib.contextmanager
def registered(recipe: Recipe):
    """``recipe`` known to the zoo for the duration of the block, then the registry as it was (a check's tiny
    recipe, an experiment's variant)."""
    previous = _RECIPES.get(recipe.name)
    register(recipe)
    try:
        yield recipe
    finally:
        if previous is None:
            _RECIPES.pop(recipe.name, None)
        else:
            _RECIPES[recipe.name] = previous


def recipes() -> dict[str, Recipe]:
    return dict(_RECIPES)


def recipe(name: str) -> Recipe:
    """The recipe ``name``; ``NAME-seedK`` is recipe NAME trained with seed K (weights init and data order)."""
    if name in _RECIPES:
        return _RECIPES[name]
    m = _SEED.match(name)
    if m and m["base"] in _RECIPES:
        base = _RECIPES[m["base"]]
        return replace(base, name=name, config=base.config.with_(seed=int(m["seed"])),
                       about=f"{base.about} (training seed {int(m['seed'])})")
    raise InputError(f"unknown zoo model {name!r}; known: {', '.join(sorted(_RECIPES))} "
                     "(any of them with a -seedK suffix trains it with seed K)")


def known(name: str) -> bool:
    """Whether ``name`` is a zoo recipe (seed variants included)."""
    try:
        recipe(name)
    except ValueError:
        return False
    return True


_NORM_LABEL = {"linf": "L∞", "l2": "L2"}


def display_name(name: str) -> str:
    """Short display name of a model: "standard", "L∞ 0.1", "L2 1.5", "TRADES L∞ 0.1" for zoo names.

    Names that are not zoo names come back unchanged.

    >>> display_name("fashion-mnist/small-cnn/linf-0.1"), display_name("my-model")
    ('L∞ 0.1', 'my-model')
    """
    bare = name[4:] if name.startswith("zoo:") else name
    if not known(bare):
        return name
    cfg = recipe(bare).config
    if cfg.threat is None or cfg.method == "standard":
        return "standard"
    t = as_threat(cfg.threat)
    label = f"{_NORM_LABEL.get(t.norm, t.norm)} {t.eps:g}"
    prefix = {"pgd": "", "trades": "TRADES ", "fast": "fast-AT "}.get(cfg.method, f"{cfg.method} ")
    return prefix + label


def with_seed(name: str, seed: int) -> str:
    """The zoo name of recipe ``name`` trained with ``seed`` (the name itself for the recipe's own seed)."""
    return name if recipe(name).config.seed == seed else f"{name}-seed{int(seed)}"


def ladder(norm: str = "linf", dataset: str = "fashion-mnist", arch: str = "small-cnn") -> list[str]:
    """Names from standard up the epsilon ladder of ``norm``, in increasing epsilon."""
    if norm not in _LADDER:
        raise InputError(f"unknown norm {norm!r}; ladders exist for {', '.join(_LADDER)}")
    return [f"{dataset}/{arch}/standard"] + [f"{dataset}/{arch}/{norm}-{e:g}" for e in _LADDER[norm]]


def zoo_dir(root: str | os.PathLike | None = None) -> Path:
    return Path(root) if root else optimist_home() / "zoo"


def model_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    return zoo_dir(root) / name


def made_by(card: dict, r: Recipe) -> bool:
    """Whether a model card was trained by recipe ``r`` (same training config; a changed recipe retrains)."""
    training = card.get("training")
    if not isinstance(training, dict):
        return False
    try:
        return TrainConfig.from_dict(training) == r.config
    except (TypeError, ValueError):
        return False


def is_cached(name: str, root: str | os.PathLike | None = None, r: Recipe | None = None) -> bool:
    """Whether ``name`` is trained and evaluated in the cache by its recipe (or ``r``)."""
    try:
        card = read_card(model_dir(name, root))
    except CheckpointError:
        return False
    return "evaluation" in card and made_by(card, r or recipe(name))


def shipped_model(name: str, items: Mapping[str, Shipped] | None = None) -> Shipped | None:
    """The installed ``optimist-zoo``'s model ``name``, if it ships one made by the current recipe; ``items``: the
    installed models when the caller already has them (``shipped.shipped()``; a listing reads them once)."""
    item = (installed() if items is None else items).get(name)
    if item is None or not known(name) or not made_by(item.card(), recipe(name)):
        return None
    return item


def load_data(r: Recipe, split: str, n: int | None = None, seed: int = 0):
    """The recipe's dataset split (class subset and size applied)."""
    ds = load_dataset(r.dataset, split)
    if r.classes is not None:
        ds = subset(ds, classes=r.classes)
    if n is not None:
        ds = subset(ds, n, seed)
    return ds


def evaluate_recipe_model(model: Classifier, r: Recipe, n: int = EVAL_N, steps: int = EVAL_STEPS,
                          progress: bool = True) -> dict:
    """Clean accuracy and PGD accuracy (each of the recipe's threats) on the first ``n`` test images."""
    test = load_data(r, "test")
    results = []
    for threat in r.eval_threats:
        res = robust_accuracy(model, test, threat, steps=steps, n=n, progress=progress)
        results.append(res.summary())
    clean = results[0]["clean_accuracy"] if results else None
    return {"clean_accuracy": clean, "robust": results,
            "how": f"first {n} test images; the default evaluation cascade with {steps} steps per gradient stage "
                   "(APGD cross-entropy, targeted-margin APGD toward 3 classes, Square-style search), each stage "
                   "on the survivors of the last; stages and settings in each record"}


def train_recipe(r: Recipe, run_dir: str | os.PathLike, progress: bool = True, device=None) -> Classifier:
    """Train (or resume) a recipe into ``run_dir``, evaluate it and store the evaluation in its card."""
    run_dir = Path(run_dir)
    data = load_data(r, "train", r.train_size)
    torch.manual_seed(r.config.seed)
    model = build_for_dataset(r.arch, data.info)
    card = {"name": r.name, "dataset": {"name": r.dataset, "classes": list(data.info.class_names),
                                        "class_subset": list(r.classes) if r.classes else None,
                                        "train_size": len(data)},
            "about": r.about}
    result = train(model, data, r.config, run_dir=run_dir, resume=True, progress=progress, card=card,
                   device=device)
    model = result.model.eval()
    evaluation = evaluate_recipe_model(model, r, n=r.eval_n, progress=progress)
    ckpt = resolve(run_dir)
    full = read_card(ckpt)
    full.update(evaluation=evaluation, versions=library_versions())
    save_checkpoint(ckpt, model, full, load_state(ckpt))
    model.card = full
    return model


def get(name: str, root: str | os.PathLike | None = None, progress: bool = True, device=None,
        recipe_override: Recipe | None = None, shipped: bool = True) -> Classifier:
    """The zoo model ``name`` in eval mode: the shipped one, else the cached one, else trained and cached first.

    ``root`` overrides the cache folder (default ``$OPTIMIST_HOME/zoo``); ``recipe_override`` trains a
    variant (e.g. ``recipe(name).scaled(train_size=5000)``) under the same name in that folder;
    ``shipped=False`` ignores the installed ``optimist-zoo`` (to retrain or audit a cache of one's own).
    """
    r = recipe_override or recipe(name)
    if recipe_override is None and shipped:
        item = shipped_model(name)
        if item is not None:
            return load_shipped(item)
    path = model_dir(name, root)
    if is_cached(name, root, r):
        return load_model(path)
    path.mkdir(parents=True, exist_ok=True)
    with _lock(path):  # two processes asking for the same model: one trains, the other waits and loads
        if is_cached(name, root, r):
            return load_model(path)
        _set_aside_other_recipe(path, r, progress)
        if progress:
            print(f"[optimist zoo] training {name} ({r.about}); cached in {path}", flush=True)
        model = train_recipe(r, path, progress=progress, device=device)
        keep_final(path)
    return model.cpu().eval()


def source(name: str, root: str | os.PathLike | None = None,
           items: Mapping[str, Shipped] | None = None) -> tuple[str, Path] | None:
    """Where ``get(name)`` would load from without training: ("shipped", folder), ("cached", folder) or None."""
    item = shipped_model(name, items)
    if item is not None:
        return "shipped", item.folder
    if is_cached(name, root):
        return "cached", resolve(model_dir(name, root))
    return None


def card_numbers(card: dict) -> dict[str, float]:
    """The headline numbers of a zoo card: clean and robust test accuracy, last held-out accuracies."""
    ev = card.get("evaluation", {})
    out = {"test clean": ev.get("clean_accuracy")}
    for res in ev.get("robust", []):
        out[f"test robust {res['threat']}"] = res["robust_accuracy"]
    history = card.get("training", {}).get("history", [])
    if history:
        for key in ("holdout_clean_acc", "holdout_pgd10_acc"):
            if key in history[-1]:
                out[f"held-out {key.split('_')[1]} (last epoch)"] = history[-1][key]
    return out


def verify(name: str, out: str | os.PathLike, *, progress: bool = True, device=None) -> list[dict]:
    """Retrain the shipped model ``name`` from scratch with its recipe and seed into ``out``, and compare.

    Returns one row per headline number: the shipped card's value, the retrained one and their difference
    (points). Floating-point order differs between machines and thread counts, so expect differences of a few
    tenths of a point, not zero.
    """
    item = shipped_model(name)
    if item is None:
        raise InputError(f"{name} is not a shipped model; shipped: {', '.join(sorted(installed())) or 'none'} "
                         "(`optimist zoo list`). Other recipes train with `optimist zoo get NAME`.")
    if is_cached(name, out):
        raise InputError(f"{out} already holds a finished {name}; verify into an empty folder")
    get(name, root=out, progress=progress, device=device, shipped=False)
    theirs = card_numbers(read_card(model_dir(name, out)))
    rows = []
    for key, value in card_numbers(item.card()).items():
        again = theirs.get(key)
        diff = None if value is None or again is None else round(100 * (again - value), 2)
        rows.append({"number": key, "shipped": value, "retrained": again, "difference (points)": diff})
    return rows


def _set_aside_other_recipe(path: Path, r: Recipe, progress: bool) -> None:
    """A cache folder trained by another version of the recipe is renamed, not overwritten nor resumed."""
    try:
        card = read_card(path)
    except CheckpointError:
        return
    if made_by(card, r):
        return  # an unfinished run of this recipe: resume it
    n = 1
    while path.with_name(f"{path.name}.other-recipe-{n}").exists():
        n += 1
    aside = path.with_name(f"{path.name}.other-recipe-{n}")
    aside.mkdir()
    for child in list(path.iterdir()):
        if child.name != ".lock":
            child.rename(aside / child.name)
    if progress:
        print(f"[optimist zoo] {path} held a model of another version of the recipe {r.name}; moved to {aside}",
              flush=True)


def keep_final(run_dir: str | os.PathLike) -> None:
    """Drop every checkpoint of a finished run but the final one, and its resume state."""
    final = resolve(run_dir)
    for old in Path(run_dir, "checkpoints").glob("epoch-*"):
        if old.resolve() != final.resolve():
            shutil.rmtree(old, ignore_errors=True)
    (final / "state.pt").unlink(missing_ok=True)


@contextlib.contextmanager
def _lock(path: Path):
    import fcntl

    with open(path / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def cached(root: str | os.PathLike | None = None) -> list[dict]:
    """Every shipped and cached model (``where`` says which), with the headline accuracies of its card."""
    rows, items = [], installed()
    for name in sorted(_RECIPES):
        found = source(name, root, items)
        if found is None:
            continue
        where, folder = found
        card = read_card(folder)
        ev = card.get("evaluation", {})
        row = {"name": name, "where": where, "about": _RECIPES[name].about, "clean": ev.get("clean_accuracy")}
        for res in ev.get("robust", []):
            row[f"pgd {res['threat']}"] = res["robust_accuracy"]
        for res in card.get("extra_evaluations", []):
            row[f"{res['attack']} {res['threat']}"] = res["robust_accuracy"]
        rows.append(row)
    return rows


def add_evaluation(name: str, summary: dict, root: str | os.PathLike | None = None) -> None:
    """Record an extra evaluation (e.g. AutoAttack) in a cached model's card."""
    path = resolve(model_dir(name, root))
    card = read_card(path)
    extra = [e for e in card.get("extra_evaluations", [])
             if not (e["attack"] == summary["attack"] and e["threat"] == summary["threat"])]
    card["extra_evaluations"] = extra + [summary]
    model = load_model(path)
    state = load_state(path) if (path / "state.pt").is_file() else None
    save_checkpoint(path, model, card, state)
