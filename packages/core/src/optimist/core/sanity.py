"""Gradient-masking sanity checks (after Athalye et al. 2018 and Carlini et al. 2019's checklist).

A robust accuracy is only believable if: it is below the clean accuracy; it falls as epsilon grows; an
unbounded attack drives it to about zero; PGD beats random noise of the same size; and the gradient-free
stage of the evaluation finds (almost) nothing the gradient stages missed. When AutoAttack was run too, the
default evaluation must also agree with it within a threshold. A failed check is reported loudly: the
number is likely an overstatement caused by masked gradients, not robustness.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import nn

from optimist.core.attacks import Threat, as_threat
from optimist.core.data.loaders import make_loader
from optimist.core.errors import InputError
from optimist.core.evaluate import EvalResult, robust_accuracy
from optimist.core.runtime import evaluating, model_device
from optimist.core.settings import Settings, setting


class GradientMaskingWarning(UserWarning):
    """A sanity check failed: the robust accuracy may be overstated."""


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class SanityReport:
    threat: str
    checks: list[Check] = field(default_factory=list)
    curve: dict[float, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([c.__dict__ for c in self.checks]).set_index("name")

    def __str__(self) -> str:
        lines = [f"Gradient-masking sanity checks ({self.threat}):"]
        lines += [f"  [{'ok' if c.passed else 'FAIL'}] {c.name}: {c.detail}" for c in self.checks]
        return "\n".join(lines)


def _noise_accuracy(model, x, y, threat: Threat, samples: int) -> float:
    """Accuracy when each image gets the worst of ``samples`` random points of the threat ball."""
    correct = torch.ones(len(y), dtype=torch.bool)
    with torch.no_grad():
        for _ in range(samples):
            xn = (x + threat.project(threat.random_delta(x))).clamp(0, 1)
            correct &= (model(xn).argmax(1) == y).cpu()
    return correct.float().mean().item()


@dataclass(frozen=True)
class MaskingSettings(Settings):
    """How :func:`gradient_masking_report` checks; pass one as ``settings=`` or give any field as a keyword."""

    steps: int = setting(20, "PGD steps of the checks")
    noise_samples: int = setting(10, "random-noise draws per image")
    tolerance: float = setting(0.01, "slack before a check fails")
    disagreement: float = setting(0.01, "largest share of images on which PGD may beat AutoAttack's verdict")


def gradient_masking_report(
    model: nn.Module,
    data,
    threat: Threat | str,
    *,
    settings: MaskingSettings | None = None,
    n: int = 500,
    warn: bool = True,
    progress: bool = False,
    autoattack: bool | EvalResult = False,
    **options: Any,
) -> SanityReport:
    """Run the checks on the first ``n`` examples of ``data`` and warn on any failure.

    ``autoattack=True`` also runs the official AutoAttack (standard version) on the same examples, or pass
    an :class:`EvalResult` of AutoAttack on them; the report then fails when the default evaluation's robust
    accuracy exceeds AutoAttack's by more than ``disagreement`` (a fraction, default 1 point).
    """
    s = MaskingSettings.merged(settings, options)
    steps, noise_samples, tolerance, disagreement = s.steps, s.noise_samples, s.tolerance, s.disagreement
    threat = as_threat(threat)
    xs, ys = [], []
    for x, y in make_loader(data, 256):
        xs.append(x)
        ys.append(y)
        if sum(len(t) for t in ys) >= n:
            break
    x, y = torch.cat(xs)[:n], torch.cat(ys)[:n]
    batch = [(x, y)]
    report = SanityReport(str(threat))

    base = robust_accuracy(model, batch, threat, steps=steps, progress=progress)
    clean, robust = base.clean_accuracy, base.robust_accuracy
    report.checks.append(Check("robust <= clean", robust <= clean + 1e-9,
                               f"clean {clean:.1%}, default evaluation ({steps} steps) {robust:.1%}"))

    curve = {}
    for f in (0.25, 0.5, 1.0, 2.0):
        t = Threat(threat.norm, threat.eps * f)
        curve[t.eps] = robust if f == 1.0 else robust_accuracy(model, batch, t, steps=steps,
                                                               progress=progress).robust_accuracy
    report.curve = curve
    accs = [curve[k] for k in sorted(curve)]
    monotone = all(b <= a + tolerance for a, b in zip(accs, accs[1:]))
    report.checks.append(Check("accuracy falls as epsilon grows", monotone,
                               ", ".join(f"{k:g}: {v:.1%}" for k, v in sorted(curve.items()))))

    big = Threat(threat.norm, 1.0 if threat.norm == "linf" else math.sqrt(x[0].numel()))
    unb = robust_accuracy(model, batch, big, steps=max(steps, 50), progress=progress).robust_accuracy
    report.checks.append(Check("unbounded attack reaches ~0%", unb <= 0.02,
                               f"PGD with {big}: {unb:.1%} (expected <= 2%)"))

    sq = [st for st in base.stages if st["stage"].startswith("square")]
    broke = sum(st["broke"] for st in sq)
    left = sq[0]["attacked"] if sq else 0
    report.checks.append(Check("gradient attacks leave nothing to random search", broke <= tolerance * len(y),
                               f"the gradient-free stage broke {broke} of the {left} points the gradient "
                               f"stages left (allowed: {tolerance:.0%} of {len(y)})"))

    if autoattack is not False:
        aa = autoattack if isinstance(autoattack, EvalResult) else \
            robust_accuracy(model, batch, threat, attack="autoattack", progress=progress)
        if aa.attack != "autoattack" or aa.n != base.n or aa.threat != str(threat):
            raise InputError(f"autoattack= must be an AutoAttack result on the same {base.n} examples and threat "
                             f"{threat}; got {aa.attack} on {aa.n} examples at {aa.threat}")
        gap = robust - aa.robust_accuracy
        report.checks.append(Check("agrees with AutoAttack", gap <= disagreement,
                                   f"default {robust:.1%} vs AutoAttack {aa.robust_accuracy:.1%} "
                                   f"({100 * gap:+.1f} points; allowed +{100 * disagreement:.1f})"))

    device = model_device(model)
    with evaluating(model):
        noise = _noise_accuracy(model, x.to(device), y.to(device), threat, noise_samples)
    report.checks.append(Check("PGD beats random noise", robust <= noise + 1e-9,
                               f"PGD {robust:.1%} vs worst of {noise_samples} random points {noise:.1%}"))
    if warn and not report.passed:
        warnings.warn("GRADIENT MASKING SUSPECTED — robust accuracy may be overstated.\n" + str(report),
                      GradientMaskingWarning, stacklevel=2)
    return report
