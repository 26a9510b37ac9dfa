"""The one contract every application follows, and what they share to follow it.

An application is a function ``compare(models, data, *, device=None, progress=True, seed=0, **settings)``
returning a :class:`Result`, a frozen :class:`~optimist.core.settings.Settings` dataclass, and an
:class:`Application` record registered under the ``optimist.applications`` entry-point group. The record gives
the application its demo (``compare`` on zoo models with demo-sized settings) and its CLI subcommand
(``optimist NAME --model L=SPEC ... --data SPEC --out DIR``); core never imports an application.

``compare`` takes any models the core resolves (an ``nn.Module``, a wrapped classifier or a model spec such as
``zoo:NAME``, ``robustbench:FILE:ARCH``), leaves them as they were (mode, device, dtype, ``requires_grad``) and
never touches the global RNG (randomness comes from a ``torch.Generator`` seeded with ``seed``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
import torch
from torch import nn

from optimist.core.errors import ModelMismatchError
from optimist.core.settings import Settings

GROUP = "optimist.applications"
TABLE_COLUMNS = ("model", "measurement", "value", "low", "high", "n")


class DataMismatchError(ModelMismatchError):
    """Data that does not fit a model: channels, image size or labels."""


@dataclass
class Result:
    """What every application returns; its demo, CLI subcommand and the report all show this.

    ``table`` has one row per model x measurement with columns ``model, measurement, value, low, high, n``
    (the interval bounds; NaN where none applies), plus any application-specific columns after those.
    ``per_example`` holds the per-image values the table summarises. ``settings`` holds everything needed to
    rerun (settings, model specs, seed, library versions).
    """

    application: str
    table: pd.DataFrame
    per_example: pd.DataFrame
    figures: dict[str, Any] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    text: str = ""
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: the application's claims, robust versus standard (rows made by :func:`claim`), for the report's first screen
    claims: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __post_init__(self) -> None:
        missing = [c for c in TABLE_COLUMNS if c not in self.table.columns]
        if missing:
            raise ValueError(f"{self.application} result table lacks columns {missing}; it needs {TABLE_COLUMNS}")

    def to_section(self, section) -> None:
        """Add text, tables, figures (with their captions) and settings to a report section."""
        if len(self.claims):
            section.add_claims(self.claims)
            section.add_table(self.claims.set_index("claim"), "Claims",
                              "Robust minus standard with its 95% interval; the verdict says whether the interval "
                              "supports the claim.")
        if self.text:
            section.add_text(self.text)
        section.add_table(self.table.set_index(["model", "measurement"]), "Results",
                          "One row per model and measurement: value with its 95% interval (low, high) over n.")
        for name, df in self.extra_tables.items():
            section.add_table(df, name)
        for name, fig in self.figures.items():
            section.add_figure(fig, name, self.captions.get(name, ""))
        section.add_settings(self.settings)

    def save(self, folder: str | os.PathLike, *, title: str | None = None) -> Path:
        """Write ``table.csv``, ``per_example.csv``, ``settings.json``, the figures (PNG) and ``index.html``."""
        from optimist.core.checkpoints import atomic_write_text
        from optimist.core.report import Report

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "table.csv", self.table.to_csv(index=False))
        atomic_write_text(folder / "per_example.csv", self.per_example.to_csv(index=False))
        atomic_write_text(folder / "settings.json", json.dumps(self.settings, indent=2, default=str))
        from optimist.core.report import provenance

        command = self.settings.get("command")
        report = Report(folder, title or f"Optimist {self.application}",
                        provenance=provenance(command if isinstance(command, list) else None))
        self.to_section(report.section(self.application.capitalize()))
        return report.write()


@dataclass(frozen=True)
class Application:
    """An application's registration: its ``compare``, its settings and how its demo runs."""

    name: str
    compare: Callable[..., Result]
    settings: type[Settings]
    description: str
    demo_models: tuple[str, ...] = ("fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/linf-0.1")
    demo_data: str = "fashion-mnist"
    demo_settings: Mapping[str, Any] = field(default_factory=dict)
    quick_settings: Mapping[str, Any] = field(default_factory=dict)
    #: the models of a quick (smoke) run; default: ``demo_models``
    quick_models: tuple[str, ...] | None = None
    #: the tiniest settings that still exercise every measurement (the contract test runs them on a ResNet-18)
    tiny_settings: Mapping[str, Any] = field(default_factory=dict)
    #: False where the data's labels are not the models' classes (transfer: a target task of its own)
    labels_are_model_classes: bool = True

    def demo(self, section, options) -> Result:
        """``compare`` on the zoo's demo models with demo-sized settings, added to ``section``."""
        from optimist.core import zoo
        from optimist.core.kit import display_name

        settings = {**self.demo_settings, **(self.quick_settings if options.quick else {}), **options.extra}
        self.settings.from_mapping(settings)  # fail before training anything
        names = (self.quick_models or self.demo_models) if options.quick else self.demo_models
        models = {display_name(n): zoo.get(n, root=options.zoo_root, progress=not options.quick) for n in names}
        result = self.compare(models, self.demo_data, device=options.device, progress=not options.quick,
                              seed=options.seed, **settings)
        result.settings["models"] = {k: f"zoo:{n}" for k, n in zip(models, names)}
        result.to_section(section)
        return result


def available_applications() -> dict[str, Application]:
    """Installed applications by name (loaded from the ``optimist.applications`` entry points)."""
    out = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        app = ep.load()
        if not isinstance(app, Application):
            raise TypeError(f"entry point {ep.name} = {ep.value} is not an optimist.core.application.Application")
        out[ep.name] = app
    return out


def resolve_models(models: Mapping[str, nn.Module | str]) -> dict[str, nn.Module]:
    """``{label: model or spec}`` -> ``{label: nn.Module}`` (specs through :func:`optimist.core.models.resolve`)."""
    from optimist.core.models import resolve

    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty mapping {label: model or spec}, e.g. "
                         "{'standard': 'zoo:fashion-mnist/small-cnn/standard', 'robust': my_model}")
    out = {}
    for label, m in models.items():
        if isinstance(m, nn.Module):
            out[str(label)] = m
        elif isinstance(m, (str, os.PathLike)):
            out[str(label)] = resolve(str(m))
        else:
            raise ValueError(f"model {label!r} must be an nn.Module or a model spec string, got {type(m).__name__}")
    return out


def resolve_data(data, *, split: str = "test"):
    """A data spec, an :class:`~optimist.core.data.ImageTensorDataset` or an ``(images, labels)`` pair."""
    from optimist.core.data import resolve

    return resolve(data, split=split)


def _expected_input(model: nn.Module) -> tuple[int | None, int | None]:
    return getattr(model, "in_channels", None), getattr(model, "image_size", None)


def check_compatible(models: Mapping[str, nn.Module], data, *, labels: bool = True) -> None:
    """Every model accepts the data: channels and size (from the model, or a probe forward) and, unless
    ``labels=False`` (a transfer target has classes of its own), labels within the model's classes."""
    from optimist.core.kit import check_images, evaluating, model_device

    x, y = data.images, data.targets
    check_images(x[:256], "data images")
    if len(x) == 0:
        raise DataMismatchError("the data holds no images")
    for label, model in models.items():
        c, s = _expected_input(model)
        if c is not None and c != x.shape[1]:
            raise DataMismatchError(
                f"model {label!r} takes {c}-channel images but the data has {x.shape[1]} channels; "
                f"{'convert to grey' if c == 1 else 'repeat the channel'} or choose a matching model")
        if s is not None and s != x.shape[-1]:
            raise DataMismatchError(
                f"model {label!r} takes {s}x{s} images but the data is {x.shape[-2]}x{x.shape[-1]}; "
                f"resize the data (data spec option ?size={s}, e.g. --data digits?size={s}) or choose a matching "
                "model")
        with evaluating(model), torch.no_grad():
            try:
                logits = model(x[:2].to(model_device(model)))
            except RuntimeError as e:
                raise DataMismatchError(f"model {label!r} cannot take images of shape {tuple(x.shape[1:])}: "
                                        f"{str(e).splitlines()[0]}") from e
        k = logits.shape[1]
        if labels and int(y.max()) >= k or int(y.min()) < 0:
            raise DataMismatchError(f"the data has labels in [{int(y.min())}, {int(y.max())}] but model {label!r} "
                                    f"has {k} classes")


def claim(claim: str, metric: str, standard: float, robust: float, low: float, high: float, *,
          higher_is_better: bool = True, robust_label: str = "robust", standard_label: str = "standard") -> dict:
    """One row of a claims table: robust minus standard (``low``/``high``: its 95% interval) and the verdict.

    ✅ when the whole interval favours the robust model, ❌ when it favours the standard one, ≈ otherwise.
    """
    import math

    diff = robust - standard
    sign = 1 if higher_is_better else -1
    if math.isnan(low) or math.isnan(high):
        verdict = "≈"
    elif sign * low > 0 and sign * high > 0:
        verdict = "✅"
    elif sign * low < 0 and sign * high < 0:
        verdict = "❌"
    else:
        verdict = "≈"
    return {"claim": claim, "metric": metric, "standard": standard, "robust": robust, "difference": diff,
            "low": low, "high": high, "interval": f"[{low:+.3g}, {high:+.3g}]", "verdict": verdict,
            "models": f"{robust_label} vs {standard_label}"}


def claim_pair(models: Mapping[str, nn.Module]) -> tuple[str, str] | None:
    """(standard label, robust label) for a claims table: from the models' training records when they have them
    (the normally trained one, and the one trained with the largest budget), else the first and the last model;
    None for fewer than two models."""
    from optimist.core.kit import training_threat

    labels = list(models)
    if len(labels) < 2:
        return None
    threats = {k: training_threat(m) for k, m in models.items()}
    standard = [k for k, t in threats.items() if t == (None, 0.0)]
    robust = [k for k, t in threats.items() if t is not None and t[0] is not None]
    if standard and robust:
        return standard[0], max(robust, key=lambda k: threats[k][1])
    return labels[0], labels[-1]


def run_settings(app: str, settings: Settings, models: Mapping[str, nn.Module | str], data, *, seed: int,
                 device) -> dict:
    """The settings record of a result: enough to rerun it."""
    from optimist.core.checkpoints import library_versions

    def spec(m):
        if isinstance(m, str):
            return m
        return getattr(m, "spec", None) or type(m).__name__

    return {"application": app, "settings": settings.to_dict(), "seed": seed, "device": str(device),
            "models": {k: spec(m) for k, m in models.items()},
            "data": data if isinstance(data, str) else getattr(getattr(data, "info", None), "name", "tensors"),
            "versions": library_versions()}


def settings_help(cls: type[Settings]) -> str:
    """The settings table for ``--help``."""
    lines = ["settings (--set KEY=VALUE, JSON values):"]
    for f in dataclasses.fields(cls):
        lines.append(f"  {f.name:<18} {f.metadata.get('help', '')} (default: {f.default!r})")
    return "\n".join(lines)
