"""The application contract as code: :func:`check_application` runs it on any application, ours or yours.

In the spirit of scikit-learn's ``check_estimator``: one public function runs every rule at the application's
``tiny_settings`` and raises :class:`~optimist.core.errors.ContractError` naming the first rule broken;
:func:`application_checks` yields the rules one at a time (``pytest.mark.parametrize`` over them names each).

The rules, each run on three kinds of model (a torchvision ResNet-18 wrapped by core, a plain ``nn.Sequential``
wrapped by core, an Optimist checkpoint given by its path) and on a zoo spec that must be trained first:

==========================  ============================================================================
``settings-errors``         an unknown setting, a wrong type and an out-of-range value raise SettingsError
``result-shape``            the table starts with model, measurement, value, low, high, n; one model per
                            label; no NaN there; low <= value <= high; a settings record; claims with
                            verdicts; ``save`` writes files that reload
``models-unchanged``        every model's mode, device, dtype and ``requires_grad`` flags as they came
``global-rng-untouched``    the global RNG of torch, numpy and ``random`` as it was
``trained-spec-rng``        the same, with a zoo spec trained on first use (an empty cache), and quietly
                            when ``progress=False``
``same-seed-same-table``    the same seed gives an identical table
==========================  ============================================================================

>>> from optimist.core.application import available_applications
>>> check_application(available_applications()["shifts"])  # doctest: +SKIP
{'settings-errors': 0.01, 'result-shape': 1.9, ...}
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from optimist.core import zoo
from optimist.core.application import TABLE_COLUMNS, Application, Result
from optimist.core.checkpoints import save_model
from optimist.core.errors import ContractError, InputError, SettingsError
from optimist.core.models import build_model, wrap

#: the data every rule runs on unless the caller passes other data (1 x 28 x 28, ten classes)
DEFAULT_DATA = "fashion-mnist?n=200"
#: the zoo recipe the trained-spec rule trains into an empty cache (a few seconds)
TINY_RECIPE = "check/small-cnn/standard"
KINDS = ("torchvision", "sequential", "checkpoint")
CHECKS = ("settings-errors", "result-shape", "models-unchanged", "global-rng-untouched", "trained-spec-rng",
          "same-seed-same-table")
VERDICTS = {"✅", "❌", "≈"}


def _torchvision_pair() -> dict[str, nn.Module]:
    import torchvision

    out = {}
    for i, label in enumerate(("tv-a", "tv-b")):
        torch.manual_seed(i + 1)
        net = torchvision.models.resnet18(num_classes=10)
        net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)  # grey 28x28 input
        out[label] = wrap(net, num_classes=10, in_channels=1, image_size=28, mean=[0.5], std=[0.25])
    return out


def _sequential_pair() -> dict[str, nn.Module]:
    out = {}
    for i, label in enumerate(("cnn-a", "cnn-b")):
        torch.manual_seed(i)
        net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                            nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 7 * 7, 32), nn.ReLU(),
                            nn.Linear(32, 10))
        out[label] = wrap(net, num_classes=10, in_channels=1, image_size=28)
    return out


def _checkpoint_pair(folder: Path) -> dict[str, str]:
    out = {}
    for i, label in enumerate(("ckpt-a", "ckpt-b")):
        torch.manual_seed(10 + i)
        path = save_model(folder / label, build_model("small-cnn", 10, 1, 28))
        out[label] = str(path)
    return out


def reference_models(kind: str, *, folder: str | os.PathLike | None = None) -> dict[str, nn.Module | str]:
    """Two models of one kind for 1 x 28 x 28 images and ten classes: ``torchvision`` (ResNet-18 with a grey stem,
    wrapped), ``sequential`` (a plain ``nn.Sequential`` CNN, wrapped) or ``checkpoint`` (Optimist checkpoints saved
    under ``folder``, given as path specs). Built under a forked RNG: the caller's random stream does not move.

    >>> sorted(reference_models("sequential"))
    ['cnn-a', 'cnn-b']
    """
    with torch.random.fork_rng():
        if kind == "torchvision":
            return _torchvision_pair()
        if kind == "sequential":
            return _sequential_pair()
        if kind == "checkpoint":
            if folder is None:
                raise InputError("reference_models('checkpoint') needs a folder to save the checkpoints in")
            return _checkpoint_pair(Path(folder))
    raise InputError(f"unknown model kind {kind!r}; kinds: {', '.join(KINDS)}")


def _rng_state() -> tuple:
    return torch.get_rng_state(), np.random.get_state(), random.getstate()


def _same_rng(a: tuple, b: tuple) -> bool:
    return (torch.equal(a[0], b[0]) and a[1][0] == b[1][0] and np.array_equal(a[1][1], b[1][1])
            and a[1][2:] == b[1][2:] and a[2] == b[2])


def _model_state(models: Mapping[str, nn.Module | str]) -> list:
    return [(label, [(name, m.training) for name, m in model.named_modules()],
             [(name, p.device, p.dtype, p.requires_grad) for name, p in model.named_parameters()],
             [(name, b.device, b.dtype) for name, b in model.named_buffers()])
            for label, model in models.items() if isinstance(model, nn.Module)]


def _fail(check: str, message: str) -> None:
    raise ContractError(message, check=check)


def _run(app: Application, models, data, **settings) -> Result:
    return app.compare(models, data, progress=False, seed=3, **{**app.tiny_settings, **settings})


def _check_result(app: Application, result: Result, models: Mapping, folder: Path) -> None:
    check = "result-shape"
    if not isinstance(result, Result):
        _fail(check, f"{app.name}.compare returned {type(result).__name__}, not an optimist Result")
    table = result.table
    if list(table.columns[: len(TABLE_COLUMNS)]) != list(TABLE_COLUMNS):
        _fail(check, f"the table's first columns are {list(table.columns[:6])}, not {list(TABLE_COLUMNS)}")
    if set(table["model"]) != set(models):
        _fail(check, f"the table's models are {sorted(set(table['model']))}, the caller's labels {sorted(models)}")
    core = table[list(TABLE_COLUMNS)]
    if core.isna().any().any():
        _fail(check, f"NaN in the table's contract columns:\n{table[core.isna().any(axis=1)]}")
    if not ((table["low"] <= table["value"] + 1e-9).all() and (table["value"] <= table["high"] + 1e-9).all()):
        _fail(check, "a value outside its interval (low <= value <= high)")
    record = result.settings
    missing = [k for k in ("application", "settings", "seed", "models", "versions") if k not in record]
    if missing:
        _fail(check, f"the settings record lacks {missing} (use the record prepare() hands back)")
    if len(result.claims):
        need = {"claim", "metric", "standard", "robust", "low", "high", "verdict"}
        if not need <= set(result.claims.columns):
            _fail(check, f"the claims lack columns {sorted(need - set(result.claims.columns))}")
        if not set(result.claims["verdict"]) <= VERDICTS:
            _fail(check, f"verdicts {sorted(set(result.claims['verdict']) - VERDICTS)} are not {sorted(VERDICTS)}")
    out = result.save(folder / "saved")
    saved = pd.read_csv(folder / "saved" / "table.csv")
    if saved.shape != table.shape:
        _fail(check, f"table.csv reloads as {saved.shape}, the table is {table.shape}")
    if json.loads((folder / "saved" / "settings.json").read_text()).get("application") != record["application"]:
        _fail(check, "settings.json does not reload to the settings record")
    if not out.is_file():
        _fail(check, f"save() returned {out}, which is not a file")


def _check_settings_errors(app: Application, models, data) -> None:
    check = "settings-errors"
    cases = [("unknown", {"nonsense_setting": 3})]
    fields = dataclasses.fields(app.settings)
    typed = next((f for f in fields if f.type in ("int", int, "float", float)), None)
    if typed is not None:
        cases.append(("wrong type", {typed.name: "not a number"}))
    bounded = next((f for f in fields if f.metadata.get("minimum") is not None), None)
    if bounded is not None:
        low = bounded.metadata["minimum"]
        cases.append(("out of range", {bounded.name: (low - 1) if isinstance(low, int) else low - 1.0}))
    for what, bad in cases:
        try:
            app.compare(models, data, progress=False, **bad)
        except SettingsError:
            continue
        except Exception as e:  # noqa: BLE001 - the rule is about which error, so every other one is a failure
            _fail(check, f"{what} setting {bad} raised {type(e).__name__}: {e}; it must raise SettingsError")
        _fail(check, f"{what} setting {bad} was accepted; it must raise SettingsError")


@contextlib.contextmanager
def _empty_home() -> Iterator[Path]:
    old = os.environ.get("OPTIMIST_HOME")
    with tempfile.TemporaryDirectory(prefix="optimist-check-") as home:
        os.environ["OPTIMIST_HOME"] = home
        try:
            yield Path(home)
        finally:
            if old is None:
                os.environ.pop("OPTIMIST_HOME", None)
            else:
                os.environ["OPTIMIST_HOME"] = old


def _tiny_recipe() -> zoo.Recipe:
    base = zoo.recipe("fashion-mnist/small-cnn/standard")
    tiny = base.scaled(train_size=256, epochs=1, eval_n=32)
    return replace(tiny, name=TINY_RECIPE, eval_threats=(), config=tiny.config.with_(holdout=0, augment=False),
                   about="the contract check's tiny recipe (256 images, 1 epoch)")


def application_checks(app: Application, *, data=DEFAULT_DATA,
                       kinds: Sequence[str] = KINDS) -> Iterator[tuple[str, Callable[[], None]]]:
    """The contract's rules as ``(name, check)`` pairs; each check raises :class:`ContractError` when broken.

    One check per kind of model runs ``compare`` once and applies ``models-unchanged``, ``global-rng-untouched``
    and ``result-shape`` to that run; ``same-seed-same-table`` reruns the sequential kind's call.

    >>> from optimist.core.application import available_applications
    >>> names = [name for name, _ in application_checks(available_applications()["shifts"])]
    >>> names[:4], names[4:]
    (['settings-errors', 'models:torchvision', 'models:sequential', 'models:checkpoint'], \
['trained-spec-rng', 'same-seed-same-table'])
    """
    tables: dict[str, pd.DataFrame] = {}
    yield "settings-errors", lambda: _check_settings_errors(app, reference_models("sequential"), data)
    for kind in kinds:
        yield f"models:{kind}", lambda kind=kind: tables.__setitem__(kind, _check_kind(app, data, kind))
    yield "trained-spec-rng", lambda: _check_trained_spec(app, data)
    yield "same-seed-same-table", lambda: _check_same_seed(app, data, tables.get("sequential"))


def _check_kind(app: Application, data, kind: str) -> pd.DataFrame:
    with tempfile.TemporaryDirectory(prefix="optimist-check-") as tmp:
        models = reference_models(kind, folder=tmp)
        modules = [m for m in models.values() if isinstance(m, nn.Module)]
        for i, m in enumerate(modules):  # the caller's modes and flags must survive: one in train mode with a
            m.train(i == 0)              # frozen parameter, the others in eval mode
        if modules:
            next(modules[0].parameters()).requires_grad_(False)
        before, rng = _model_state(models), _rng_state()
        try:
            result = _run(app, models, data)
        except ValueError as e:  # a Result whose table lacks the contract's columns refuses to exist
            if "result table lacks columns" in str(e):
                _fail("result-shape", str(e))
            raise
        if _model_state(models) != before:
            _fail("models-unchanged", f"{app.name}.compare changed a {kind} model's mode, device, dtype or "
                                      "requires_grad flags; run the work inside prepare()")
        if not _same_rng(rng, _rng_state()):
            _fail("global-rng-untouched", f"{app.name}.compare moved the global RNG (torch, numpy or random) with "
                                          f"{kind} models; draw from prepare()'s run.generator / run.rng instead")
        _check_result(app, result, models, Path(tmp))
        return result.table


def _check_trained_spec(app: Application, data) -> None:
    rule = "trained-spec-rng"
    with _empty_home(), zoo.registered(_tiny_recipe()):
        models = {"zoo": f"zoo:{TINY_RECIPE}", **dict(list(reference_models("sequential").items())[:1])}
        rng, out = _rng_state(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            _run(app, models, data)
        if "[optimist zoo] training" in out.getvalue() or "epoch 1/" in out.getvalue():
            _fail(rule, f"{app.name}.compare(progress=False) printed the zoo training's progress; pass progress "
                        "to prepare()")
        if not _same_rng(rng, _rng_state()):
            _fail(rule, f"{app.name}.compare moved the global RNG while a zoo model was trained on first use; "
                        "resolve models through prepare()")
        if not zoo.is_cached(TINY_RECIPE):
            _fail(rule, "the zoo spec was not trained into the (empty) cache")


def _check_same_seed(app: Application, data, first: pd.DataFrame | None) -> None:
    rule = "same-seed-same-table"
    models = reference_models("sequential")
    a = first if first is not None else _run(app, models, data).table
    b = _run(app, models, data).table
    try:
        pd.testing.assert_frame_equal(a, b)
    except AssertionError as e:
        _fail(rule, f"two runs with seed 3 gave different tables: {str(e).splitlines()[0]}")


def check_application(app: Application, *, data=DEFAULT_DATA, kinds: Sequence[str] = KINDS) -> dict[str, float]:
    """Run every rule of the application contract on ``app``; raise :class:`ContractError` at the first broken
    rule (its ``check`` names it). Returns the seconds each rule took.

    ``data`` must suit 1 x 28 x 28 models with ten classes (default: 200 Fashion-MNIST test images).
    """
    if not isinstance(app, Application):
        raise TypeError(f"check_application takes an optimist.core.application.Application, got {type(app).__name__}")
    seconds = {}
    for name, check in application_checks(app, data=data, kinds=kinds):
        t0 = time.perf_counter()
        check()
        seconds[name] = round(time.perf_counter() - t0, 2)
    return seconds


__all__ = ["CHECKS", "DEFAULT_DATA", "KINDS", "application_checks", "check_application", "reference_models"]
