"""Robust accuracy, evaluated as a cascade: only points still classified correctly are attacked further.

The default cascade (``attack="pgd"``) runs, each stage on the points the previous ones left standing:
APGD-schedule PGD on cross-entropy (60 steps); targeted APGD on the margin toward each of the 3 likeliest
wrong classes, for the half of the survivors closest to the boundary; then a gradient-free Square-style random
search from each survivor's last attack point, a probe of 625 queries that goes on to 2,500 only in the
batches where it broke something (the sign of masked gradients). ``attack="autoattack"`` runs the official
AutoAttack (``pyautoattack``, Croce & Hein) for reference. Every result records what each stage broke.

Under an initialised ``torch.distributed`` process group the batches are shared out across the ranks and the
outcomes gathered; each batch is seeded by its index, so N processes give exactly the one-process numbers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from optimist.core.attacks import Threat, as_threat, fgsm, pgd
from optimist.core.attacks.objectives import PAIR_LOSSES, label_loss, margin_of_logits
from optimist.core.attacks.pgd import SCHEDULES
from optimist.core.attacks.square import square
from optimist.core.checks import check_images, check_labels
from optimist.core.data.loaders import make_loader
from optimist.core.errors import InputError
from optimist.core.ranks import gather, world
from optimist.core.runtime import evaluating, model_device
from optimist.core.settings import Settings, setting

ATTACKS = ("pgd", "fgsm", "autoattack")
AUTOATTACK_VERSIONS = ("standard", "plus", "rand", "custom")
AUTOATTACK_ATTACKS = ("apgd-ce", "apgd-dlr", "apgd-t", "fab", "fab-t", "square")

# The default cascade (see benchmarks/eval_vs_autoattack.py for how it compares with AutoAttack).
DEFAULT_STEPS = 60
DEFAULT_LOSSES = ("ce",)
DEFAULT_TARGETS = 3
DEFAULT_TARGET_LOSS = "margin-targeted"
DEFAULT_FOCUS = 0.5
DEFAULT_SQUARE_QUERIES = 2500
DEFAULT_SQUARE_PROBE = 0.25


@dataclass
class EvalResult:
    """Clean and robust accuracy, with per-example outcomes (True = still correct) and per-stage counts.

    ``stages`` lists, in order, each stage of the evaluation (cascade stage or AutoAttack attack) with the
    number of points it ``attacked`` (those left standing by the stages before) and ``broke``.
    """

    clean_accuracy: float
    robust_accuracy: float
    clean_correct: torch.Tensor
    robust_correct: torch.Tensor
    threat: str
    attack: str
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0
    stages: list[dict] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.clean_correct.numel())

    def summary(self) -> dict:
        """A JSON-friendly record (what model cards store)."""
        return {
            "attack": self.attack, "threat": self.threat, "n": self.n,
            "clean_accuracy": round(self.clean_accuracy, 4), "robust_accuracy": round(self.robust_accuracy, 4),
            "seconds": round(self.seconds, 1), **self.settings, "stages": [dict(s) for s in self.stages],
        }


class _Stages:
    """Running (attacked, broke) counts per stage name, in first-seen order."""

    def __init__(self):
        self.counts: dict[str, list] = {}

    def add(self, name: str, attacked: int, broke: int, seconds: float = 0.0) -> None:
        c = self.counts.setdefault(name, [0, 0, 0.0])
        c[0] += attacked
        c[1] += broke
        c[2] += seconds

    def merge(self, other: dict[str, list]) -> None:
        for name, (a, b, t) in other.items():
            self.add(name, a, b, t)

    def records(self) -> list[dict]:
        return [{"stage": k, "attacked": a, "broke": b, "seconds": round(t, 2)}
                for k, (a, b, t) in self.counts.items()]


def check_autoattack_options(version: str, attacks: Sequence[str] | None) -> None:
    """Clear errors for an AutoAttack version or attack list the official code would reject."""
    if version not in AUTOATTACK_VERSIONS:
        raise InputError(f"unknown AutoAttack version {version!r}; choose one of {', '.join(AUTOATTACK_VERSIONS)}")
    if attacks is not None:
        bad = [a for a in attacks if a not in AUTOATTACK_ATTACKS]
        if bad:
            raise InputError(f"unknown AutoAttack attack(s) {bad}; choose from {', '.join(AUTOATTACK_ATTACKS)}")
        if version != "custom":
            raise InputError(f"autoattack_attacks picks a custom subset: pass autoattack_version='custom' "
                             f"(the {version!r} version fixes its own attacks)")
        if not attacks:
            raise InputError("autoattack_attacks is empty; name at least one, e.g. ['apgd-ce', 'square']")
    elif version == "custom":
        raise InputError("autoattack_version='custom' needs autoattack_attacks, e.g. ['apgd-ce', 'apgd-t']")


def _autoattack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: Threat, seed: int, version: str,
                attacks: Sequence[str] | None, stages: _Stages) -> torch.Tensor:
    """The official AutoAttack (``pyautoattack``) on (x, y); per-attack counts go into ``stages``."""
    try:
        from pyautoattack import AutoAttack
    except ImportError as e:
        raise ImportError("attack='autoattack' runs the official AutoAttack: pip install 'optimist-core[eval]' "
                          "(or pip install pyautoattack)") from e
    norm = {"linf": "Linf", "l2": "L2"}[threat.norm]
    aa = AutoAttack(model, norm=norm, eps=threat.eps, version=version, seed=seed, device=x.device,
                    attacks=list(attacks) if version == "custom" else None)
    aa.verbose = False
    names = {"apgd": lambda: "apgd-" + aa.apgd.loss, "apgd_targeted": lambda: "apgd-t",
             "fab": lambda: "fab-t" if aa.fab.targeted else "fab", "square": lambda: "square"}
    for attr, name_of in names.items():  # count what each attack breaks (AutoAttack only logs it)
        obj = getattr(aa, attr)
        obj.perturb = _counting(obj.perturb, name_of, model, stages)
    x_adv, _ = aa.run_standard_evaluation(x, y, batch_size=len(x))
    return x_adv


def _counting(perturb, name_of, model, stages: _Stages):
    def run(x, y, *args, **kwargs):
        t0 = time.perf_counter()
        adv = perturb(x, y, *args, **kwargs)
        with torch.no_grad():
            stages.add(name_of(), len(y), int((model(adv).argmax(1) != y).sum()), time.perf_counter() - t0)
        return adv
    return run


@dataclass(frozen=True)
class Cascade:
    """The stages of the default evaluation; see :func:`robust_accuracy`."""

    steps: int = DEFAULT_STEPS
    restarts: int = 1
    step_size: float | None = None
    losses: tuple[str, ...] = DEFAULT_LOSSES
    targets: int = DEFAULT_TARGETS
    target_loss: str = DEFAULT_TARGET_LOSS
    schedule: str = "apgd"
    square_queries: int = DEFAULT_SQUARE_QUERIES
    square_halving: bool = True
    focus: float = DEFAULT_FOCUS
    square_probe: float = DEFAULT_SQUARE_PROBE

    def check(self) -> None:
        for name in self.losses:
            label_loss(name)
            if name in PAIR_LOSSES:
                raise InputError(f"{name!r} is a targeted loss: use it as target_loss with targets >= 1")
        if self.target_loss not in PAIR_LOSSES:
            raise InputError(f"target_loss must be one of {', '.join(PAIR_LOSSES)}, got {self.target_loss!r}")
        if self.schedule not in SCHEDULES:
            raise InputError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if not 0 <= self.square_probe < 1:
            raise InputError(f"square_probe is the fraction of square_queries spent before deciding whether to go "
                             f"on, in [0, 1) (0: no probe), got {self.square_probe}")
        if not 0 < self.focus <= 1:
            raise InputError(f"focus is the fraction of survivors the targeted stages attack, in (0, 1]; "
                             f"got {self.focus}")
        if self.targets < 0 or self.square_queries < 0:
            raise InputError(f"targets and square_queries must be >= 0, got {self.targets}, {self.square_queries}")
        if not self.losses and self.targets == 0 and self.square_queries == 0:
            raise InputError(f"the cascade needs at least one stage: losses={self.losses}, targets={self.targets}, "
                             f"square_queries={self.square_queries} (pass losses=('ce',), targets >= 1 or "
                             "square_queries >= 1)")

    def settings(self) -> dict:
        return {"steps": self.steps, "restarts": self.restarts, "schedule": self.schedule,
                "losses": list(self.losses), "targets": self.targets, "target_loss": self.target_loss,
                "square_queries": self.square_queries, "square_probe": self.square_probe, "focus": self.focus}

    def run(self, model, x, y, clean_logits, threat: Threat, stages: _Stages) -> torch.Tensor:
        """Which of (x, y) survive every stage; each stage attacks only the survivors of the last."""
        alive = torch.ones(len(y), dtype=torch.bool, device=y.device)
        others = clean_logits.scatter(1, y[:, None], float("-inf")).argsort(1, descending=True)
        n_targets = min(self.targets, others.shape[1] - 1)
        plan = [(f"{self.schedule}-{loss}", loss, None) for loss in self.losses]
        plan += [(f"{self.schedule}-{self.target_loss}-{k + 1}", self.target_loss, k) for k in range(n_targets)]
        if self.square_queries:
            plan.append(("square", None, None))
            if self.square_probe:  # the rest of the budget only where the probe found masked gradients
                plan.append(("square-continued", None, None))
        last = x.clone()  # each survivor's latest attack point: where the random search starts
        margin = -margin_of_logits(clean_logits, y)  # label logit minus the best other, at the latest point
        probe_broke = 0
        for name, loss, k in plan:
            idx = alive.nonzero().flatten()
            if name == "square-continued" and probe_broke == 0:
                idx = idx[:0]
            if k is not None and self.focus < 1 and idx.numel() > 1:
                # targeted stages go to the survivors closest to the boundary
                keep = max(1, math.ceil(self.focus * idx.numel()))
                idx = idx[margin[idx].argsort()[:keep]].sort().values
            if idx.numel() == 0:
                stages.add(name, 0, 0)
                continue
            t0 = time.perf_counter()
            if loss is None:
                queries = self.square_queries
                if self.square_probe:
                    probe = max(1, round(self.square_probe * queries))
                    queries = probe if name == "square" else queries - probe
                xa = square(model, x[idx], y[idx], threat, queries=queries,
                            halving=self.square_halving, x_init=last[idx] if len(plan) > 1 else None)
            else:
                xa = pgd(model, x[idx], y[idx], threat, steps=self.steps, step_size=self.step_size,
                         restarts=self.restarts, early_stop=True, loss=loss, schedule=self.schedule,
                         target=None if k is None else others[idx, k])
            last[idx] = xa
            with torch.no_grad():
                z = model(xa)
            alive[idx] = z.argmax(1) == y[idx]
            margin[idx] = -margin_of_logits(z, y[idx])
            broke = int(idx.numel() - alive[idx].sum())
            probe_broke = broke if name == "square" else probe_broke
            stages.add(name, idx.numel(), broke, time.perf_counter() - t0)
        return alive


def _check_model_output(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    check_images(x)
    with torch.no_grad():
        logits = model(x)
    check_labels(y, x.shape[0], logits.shape[1])
    return logits


def _gather(local: list, stages: _Stages, seconds: float, size: int):
    """Every rank's (batch, clean, robust) rows in batch order, summed stage counts and the slowest time."""
    if size == 1:
        return local, stages, seconds
    parts = gather((local, stages.counts, seconds))
    rows = sorted((r for p in parts for r in p[0]), key=lambda r: r[0])
    total = _Stages()
    for p in parts:
        total.merge(p[1])
    return rows, total, max(p[2] for p in parts)


@dataclass(frozen=True)
class EvalSettings(Settings):
    """How :func:`robust_accuracy` attacks. Pass one as ``settings=EvalSettings(steps=20)`` or give any field as a
    keyword (``robust_accuracy(..., steps=20)``); both are validated."""

    attack: str = setting("pgd", "pgd (the cascade below), autoattack (the official package) or fgsm")
    steps: int = setting(DEFAULT_STEPS, "steps of every gradient stage of the cascade")
    restarts: int = setting(1, "restarts of every gradient stage")
    step_size: Optional[float] = setting(None, "step length (default: the schedule's)")
    batch_size: int = setting(256, "images per batch", minimum=1)
    autoattack_version: str = setting("standard", "AutoAttack version: standard, plus, rand or custom")
    losses: tuple[str, ...] = setting(DEFAULT_LOSSES, "untargeted losses of the cascade's first stages")
    targets: int = setting(DEFAULT_TARGETS, "likeliest wrong classes of the targeted stage")
    target_loss: str = setting(DEFAULT_TARGET_LOSS, "loss of the targeted stage")
    schedule: str = setting("apgd", "step schedule of the gradient stages: apgd or fixed")
    square_queries: int = setting(DEFAULT_SQUARE_QUERIES, "queries of the Square-style search (0: off)")
    focus: float = setting(DEFAULT_FOCUS, "fraction of survivors (smallest margin) the targeted stage attacks")
    square_probe: float = setting(DEFAULT_SQUARE_PROBE, "share of the Square queries spent as a probe")
    autoattack_attacks: Optional[tuple[str, ...]] = setting(None, "AutoAttack's attacks with version custom")
    shard: bool = setting(True, "under torchrun, each rank evaluates every world-size-th batch")


def robust_accuracy(
    model: nn.Module,
    data: Dataset | Iterable,
    threat: Threat | str,
    *,
    settings: EvalSettings | None = None,
    n: int | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool = True,
    **options,
) -> EvalResult:
    """Clean and robust accuracy of ``model`` on ``data`` (a dataset or an iterable of (x, y) batches).

    ``attack="pgd"`` (the default) is a cascade; every stage attacks only the points the previous ones left
    standing and stops per example once it is broken, so the later stages cost little on a weak model and
    add strength on a robust one. The stages: PGD with each loss in ``losses`` (untargeted: ``ce``,
    ``margin``, ``dlr``), then PGD on ``target_loss`` (``dlr-targeted`` or ``margin-targeted``) toward each
    of the ``targets`` likeliest wrong classes (at the clean point), for the ``focus`` fraction of the
    survivors with the smallest margin, all with ``steps`` steps, ``restarts`` and the step ``schedule``
    (``"apgd"``: momentum and step halving at checkpoints; ``"fixed"``: plain PGD); then the gradient-free
    Square-style search from each survivor's last attack point, with ``square_queries`` queries (0 turns it
    off): a probe of ``square_probe`` of them on every survivor, and the rest only in a batch where the probe
    broke a point (0: the whole budget at once). The defaults were tuned against the official AutoAttack
    on four zoo models (``benchmarks/eval_vs_autoattack.py``).

    ``attack="autoattack"`` runs the official AutoAttack (``pyautoattack``; install ``optimist-core[eval]``)
    in ``autoattack_version`` ``standard``, ``plus``, ``rand`` or ``custom`` (then ``autoattack_attacks``
    names the subset, e.g. ``["apgd-ce", "square"]``). ``"fgsm"`` is one signed-gradient step.

    Points the model already gets wrong are not attacked; ``n`` limits the evaluation to the first ``n``
    examples. ``result.stages`` counts what each stage broke. The model is evaluated in eval mode and
    returned to its mode; the global random state is left untouched (each batch is seeded from ``seed`` and
    its index). Under an initialised process group (``torchrun``) with ``shard=True``, each rank evaluates
    every world-size-th batch and the outcomes are gathered on all ranks: the same numbers as one process.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> batches = [(torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]))]
    >>> result = robust_accuracy(model, batches, "linf:0.1", steps=5, progress=False)
    >>> result.robust_accuracy <= result.clean_accuracy, result.threat
    (True, 'linf:0.1')
    """
    s = EvalSettings.merged(settings, options)
    attack, steps, restarts, step_size, batch_size = s.attack, s.steps, s.restarts, s.step_size, s.batch_size
    losses, targets, target_loss, schedule = s.losses, s.targets, s.target_loss, s.schedule
    square_queries, focus, square_probe, shard = s.square_queries, s.focus, s.square_probe, s.shard
    autoattack_version, autoattack_attacks = s.autoattack_version, s.autoattack_attacks
    threat = as_threat(threat)
    if attack not in ATTACKS:
        raise InputError(f"unknown attack {attack!r}; choose one of {', '.join(ATTACKS)}")
    cascade = Cascade(steps, restarts, step_size, tuple(losses), targets, target_loss, schedule, square_queries,
                      focus=focus, square_probe=square_probe)
    if attack == "pgd":
        cascade.check()
    if attack == "autoattack":
        check_autoattack_options(autoattack_version, autoattack_attacks)
    if n is not None and n < 1:
        raise InputError(f"n must be a positive number of examples (or None for all), got {n}")
    if device is None:
        device = model_device(model)
    rank, size = world() if shard else (0, 1)
    stages = _Stages()
    local: list[tuple[int, torch.Tensor, torch.Tensor]] = []
    seen = 0
    start = time.perf_counter()
    batches = make_loader(data, batch_size)
    total = math.ceil(min(n, len(data)) / batch_size) if n and hasattr(data, "__len__") else None
    devices = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    with evaluating(model):  # the caller's mode (every submodule's) comes back afterwards
        with torch.random.fork_rng(devices=devices):
            for b, (x, y) in enumerate(tqdm(batches, desc=f"{attack} {threat}", total=total,
                                            disable=not progress or rank != 0, leave=False)):
                if n is not None:
                    if seen >= n:
                        break
                    x, y = x[: n - seen], y[: n - seen]
                seen += len(y)
                if b % size != rank:
                    continue
                torch.manual_seed(seed * 1_000_003 + b)
                x, y = x.to(device), y.to(device)
                logits = _check_model_output(model, x, y)
                clean = logits.argmax(1) == y
                robust = clean.clone()
                idx = clean.nonzero().flatten()
                if idx.numel() and threat.eps > 0:
                    xs, ys = x[idx], y[idx]
                    if attack == "pgd":
                        robust[idx] = cascade.run(model, xs, ys, logits[idx], threat, stages)
                    else:
                        if attack == "fgsm":
                            xa = fgsm(model, xs, ys, threat)
                        else:
                            xa = _autoattack(model, xs, ys, threat, seed * 1_000_003 + b, autoattack_version,
                                             autoattack_attacks, stages)
                        with torch.no_grad():
                            robust[idx] = model(xa).argmax(1) == ys
                        if attack == "fgsm":
                            stages.add("fgsm", idx.numel(), int(idx.numel() - robust[idx].sum()))
                local.append((b, clean.cpu(), robust.cpu()))
    rows, stages, seconds = _gather(local, stages, time.perf_counter() - start, size)
    if not rows:
        raise InputError("no examples to evaluate: the data is empty")
    clean_t = torch.cat([r[1] for r in rows])
    robust_t = torch.cat([r[2] for r in rows])
    if attack == "pgd":
        settings = cascade.settings()
    elif attack == "autoattack":
        settings = {"version": autoattack_version, "implementation": _autoattack_version()}
        if autoattack_attacks:
            settings["attacks"] = list(autoattack_attacks)
    else:
        settings = {}
    if size > 1:
        settings["world_size"] = size
    return EvalResult(
        clean_accuracy=clean_t.float().mean().item(),
        robust_accuracy=robust_t.float().mean().item(),
        clean_correct=clean_t,
        robust_correct=robust_t,
        threat=str(threat),
        attack=attack,
        settings=settings,
        seconds=seconds,
        stages=stages.records(),
    )


def _autoattack_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"pyautoattack {version('pyautoattack')}"
    except PackageNotFoundError:
        return "pyautoattack"
