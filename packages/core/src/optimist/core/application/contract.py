"""The application contract: what every application's ``compare`` returns and how it registers.

An application is a function ``compare(models, data, *, device=None, progress=True, seed=0, **settings)``
returning a :class:`Result`, a frozen :class:`~optimist.core.settings.Settings` dataclass, and an
:class:`Application` record registered under the ``optimist.applications`` entry-point group. The record gives
the application its demo (``compare`` on zoo models with demo-sized settings) and its CLI subcommand
(``optimist NAME --model L=SPEC ... --data SPEC --out DIR``); core never imports an application.
:func:`optimist.core.testing.check_application` checks the whole contract on any application.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
from torch import nn

from optimist.core import zoo
from optimist.core.attacks import training_threat
from optimist.core.errors import InputError
from optimist.core.files import atomic_write_text
from optimist.core.report import Report, provenance
from optimist.core.settings import Settings

TABLE_COLUMNS = ("model", "measurement", "value", "low", "high", "n")


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
            raise InputError(f"{self.application} result table lacks columns {missing}; it needs {TABLE_COLUMNS}")

    def to_section(self, section) -> None:
        """Add the claims, the figures (with their captions), the text, the tables (long ones folded) and the
        settings to a report section, in that order."""
        if len(self.claims):
            section.add_claims(self.claims)
            section.add_table(self.claims.set_index("claim"), "Claims",
                              "Robust minus standard with its 95% interval; the verdict says whether the interval "
                              "supports the claim.")
        for name, fig in self.figures.items():  # pictures first, right after the claims
            section.add_figure(fig, name, self.captions.get(name, ""))
        if self.text:
            section.add_text(self.text)
        section.add_table(self.table.set_index(["model", "measurement"]), "Results",
                          "One row per model and measurement: value with its 95% interval (low, high) over n.")
        for name, df in self.extra_tables.items():
            section.add_table(df, name)
        section.add_settings(self.settings)

    def save(self, folder: str | os.PathLike, *, title: str | None = None) -> Path:
        """Write ``table.csv``, ``per_example.csv``, ``settings.json``, the figures (PNG) and ``index.html``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "table.csv", self.table.to_csv(index=False))
        atomic_write_text(folder / "per_example.csv", self.per_example.to_csv(index=False))
        atomic_write_text(folder / "settings.json", json.dumps(self.settings, indent=2, default=str))
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
        settings = {**self.demo_settings, **(self.quick_settings if options.quick else {}), **options.extra}
        self.settings.from_mapping(settings)  # fail before training anything
        names = (self.quick_models or self.demo_models) if options.quick else self.demo_models
        models = {zoo.display_name(n): zoo.get(n, root=options.zoo_root, progress=not options.quick) for n in names}
        result = self.compare(models, self.demo_data, device=options.device, progress=not options.quick,
                              seed=options.seed, **settings)
        result.settings["models"] = {k: f"zoo:{n}" for k, n in zip(models, names)}
        result.to_section(section)
        return result


def claim(claim: str, metric: str, standard: float, robust: float, low: float, high: float, *,
          higher_is_better: bool = True, robust_label: str = "robust", standard_label: str = "standard") -> dict:
    """One row of a claims table: robust minus standard (``low``/``high``: its 95% interval) and the verdict.

    ✅ when the whole interval favours the robust model, ❌ when it favours the standard one, ≈ otherwise.
    """
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
    labels = list(models)
    if len(labels) < 2:
        return None
    threats = {k: training_threat(m) for k, m in models.items()}
    standard = [k for k, t in threats.items() if t == (None, 0.0)]
    robust = [k for k, t in threats.items() if t is not None and t[0] is not None]
    if standard and robust:
        return standard[0], max(robust, key=lambda k: threats[k][1])
    return labels[0], labels[-1]


def settings_help(cls: type[Settings]) -> str:
    """The settings table for ``--help``."""
    lines = ["settings (--set KEY=VALUE, JSON values):"]
    for f in dataclasses.fields(cls):
        lines.append(f"  {f.name:<18} {f.metadata.get('help', '')} (default: {f.default!r})")
    return "\n".join(lines)


__all__ = ["TABLE_COLUMNS", "Application", "Result", "claim", "claim_pair", "settings_help"]
