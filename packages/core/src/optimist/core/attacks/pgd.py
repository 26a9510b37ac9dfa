"""The projected-gradient engine every Optimist attack, training method and generator runs on.

``pgd`` ascends a per-example objective (default: cross-entropy) inside a :class:`Threat` ball, keeping
the best iterate per example. Generation, inversion and feature visualisation pass their own objective and
an unbounded or large budget; evaluation passes ``early_stop`` so broken points stop costing compute.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import torch
from torch import nn

from optimist.core.attacks.objectives import PAIR_LOSSES, Objective, label_loss
from optimist.core.attacks.threat import Threat, as_threat
from optimist.core.checks import check_labels, check_model_input
from optimist.core.errors import InputError
from optimist.core.models.layout import channels_last
from optimist.core.settings import Settings, setting


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Turn off ``requires_grad`` on the model's parameters for the duration, then restore each flag."""
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield model
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)


SCHEDULES = ("fixed", "apgd")
APGD_MOMENTUM = 0.75
APGD_RHO = 0.75


def apgd_checkpoints(steps: int) -> list[int]:
    """Iterations at which the APGD schedule may halve its step (Croce & Hein 2020, section 3.1).

    ``ceil(p_j * steps)`` for ``p_0 = 0``, ``p_1 = 0.22``, ``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)``:
    checkpoints come closer together as the run goes on.
    """
    p = [0.0, 0.22]
    while p[-1] + max(p[-1] - p[-2] - 0.03, 0.06) <= 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return sorted({math.ceil(q * steps - 1e-9) for q in p[1:]} - {0})


def _score(model, x, y, objective, targeted, label_loss, target=None):
    """(score to ascend, success or None) for a batch; success only for the named label losses."""
    if objective is None:
        logits = model(x)
        loss = label_loss(logits, y) if target is None else label_loss(logits, y, target)
        pred = logits.argmax(1)
        success = (pred == y) if targeted else (pred != y)
    else:
        loss = objective(model, x, y)
        success = None
        if isinstance(loss, tuple):  # (loss, fooled): the objective says which examples are done
            loss, success = loss
            if success.shape != (x.shape[0],) or success.dtype != torch.bool:
                raise InputError(f"objective's success must be a bool tensor of shape ({x.shape[0]},); "
                                 f"got {success.dtype} {tuple(success.shape)}")
        if loss.ndim != 1 or loss.shape[0] != x.shape[0]:
            raise InputError(f"objective must return one loss per example, shape ({x.shape[0]},); "
                             f"got {tuple(loss.shape)}")
    return (-loss if targeted else loss), success


def _better(score, success, best_score, best_success):
    """Success first, then a higher score."""
    if success is None:
        return score > best_score
    return (success & ~best_success) | ((success == best_success) & (score > best_score))


def _view(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (like.ndim - 1)))


def _run_once(model, x0, y, threat, steps, step_size, random_start, targeted, objective, keep_best, early_stop,
              label_loss, target=None, schedule="fixed"):
    n = x0.shape[0]
    apgd = schedule == "apgd"
    if random_start:
        x_adv = (x0 + threat.project(threat.random_delta(x0))).clamp(0, 1)
    else:
        x_adv = x0.clone()
    best_x = x_adv.clone()
    best_score = torch.full((n,), -math.inf, device=x0.device)
    best_success = torch.zeros(n, dtype=torch.bool, device=x0.device)
    active = None  # rows still attacked; None = all of them (no gather/scatter until early stop drops one)
    if apgd:  # per-example state of the APGD schedule
        eta = torch.full((n,), float(step_size), device=x0.device, dtype=x0.dtype)
        x_prev = x_adv.clone()
        best_grad = torch.zeros_like(x0)
        prev_score = torch.full((n,), -math.inf, device=x0.device)
        increases = torch.zeros(n, dtype=torch.long, device=x0.device)
        ck_best = torch.full((n,), -math.inf, device=x0.device)
        reduced_last = torch.ones(n, dtype=torch.bool, device=x0.device)
        checkpoints = set(apgd_checkpoints(steps))
        last_ck = 0

    def take(t):
        return t if active is None else t[active]

    def put(t, v):
        if active is None:
            t.copy_(v)
        else:
            t[active] = v

    def record(xa, score, success, grad=None):
        better = _better(score, success, take(best_score), take(best_success))
        sel = better.nonzero().flatten() if active is None else active[better]
        best_x[sel] = xa[better].detach()
        best_score[sel] = score[better].detach()
        if success is not None:
            best_success[sel] = success[better]
        if grad is not None:
            best_grad[sel] = grad[better]

    def labels():
        # rows are dropped only on success; a custom objective that reports success must take y[rows]
        return take(y)

    def project(x_start, v):
        return (x_start + threat.project(v - x_start)).clamp(0, 1)

    for k in range(steps):
        xa = take(x_adv).detach().requires_grad_(True)
        with torch.enable_grad():
            score, success = _score(model, xa, labels(), objective, targeted, label_loss,
                                    None if target is None else take(target))
            (grad,) = torch.autograd.grad(score.sum(), xa)
        score = score.detach()
        x_start = take(x0)
        if apgd:
            record(xa, score, success, grad)
            if k > 0:
                put(increases, take(increases) + (score > take(prev_score)).long())
            put(prev_score, score)
            base, g = xa.detach(), grad
            if k in checkpoints:
                stalled = take(increases).float() < APGD_RHO * (k - last_ck)
                no_gain = ~take(reduced_last) & (take(best_score) <= take(ck_best))
                reduce = stalled | no_gain
                put(eta, torch.where(reduce, take(eta) / 2, take(eta)))
                put(reduced_last, reduce)
                put(ck_best, take(best_score))
                put(increases, torch.zeros_like(take(increases)))
                last_ck = k
                if reduce.any():  # restart the halved ones from their best point, momentum reset
                    r = _view(reduce, base)
                    base = torch.where(r, take(best_x), base)
                    g = torch.where(r, take(best_grad), g)
                    put(x_prev, torch.where(r, base, take(x_prev)))
            step = _view(take(eta), base)
            z = project(x_start, base + threat.ascent(g, step))
            if k > 0:
                z = project(x_start, base + APGD_MOMENTUM * (z - base) + (1 - APGD_MOMENTUM) * (base - take(x_prev)))
            put(x_prev, base)
            new = z
        else:
            if keep_best:
                record(xa, score, success)
            new = project(x_start, xa.detach() + threat.ascent(grad, step_size))
        put(x_adv, new)
        if early_stop and success is not None and success.any():
            active = (torch.arange(n, device=x0.device) if active is None else active)[~success]
            if active.numel() == 0:
                break
    if not keep_best:
        return x_adv, None, None
    if active is None or active.numel():
        with torch.no_grad():
            xa = take(x_adv)
            score, success = _score(model, xa, labels(), objective, targeted, label_loss,
                                    None if target is None else take(target))
        record(xa, score, success)
    return best_x, best_score, best_success


@dataclass(frozen=True)
class PGDSettings(Settings):
    """How the PGD engine runs. Pass one as ``pgd(..., settings=PGDSettings(steps=20))`` or give any field as a
    keyword (``pgd(..., steps=20)``); both are validated (unknown keys, types and ranges)."""

    steps: int = setting(10, "iterations", minimum=0)
    step_size: Optional[float] = setting(None, "step length; default 2.5 * eps / steps (2 * eps with apgd)")
    random_start: bool = setting(True, "start from a uniform point of the ball")
    restarts: int = setting(1, "independent runs; the best per example is kept", minimum=1)
    targeted: bool = setting(False, "descend the objective (with cross-entropy: move toward class y)")
    keep_best: bool = setting(True, "return each example's best iterate (else the last, no extra forward)")
    early_stop: bool = setting(False, "stop updating an example once it is fooled")
    loss: str = setting("ce", "label loss without an objective: ce, margin, dlr, dlr-targeted, margin-targeted")
    schedule: str = setting("fixed", "fixed steps, or apgd (momentum and step halving)", choices=SCHEDULES)


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    threat: Threat | str,
    *,
    settings: PGDSettings | None = None,
    objective: Objective | None = None,
    target: torch.Tensor | None = None,
    return_loss: bool = False,
    **options: Any,
):
    """Projected gradient ascent on ``objective`` within ``threat`` around images ``x`` in [0, 1].

    Settings (a :class:`PGDSettings` as ``settings=``, or its fields as keywords):

    Args:
        model: maps images in [0, 1] to logits (its train/eval mode is left as it is).
        y: labels for the default cross-entropy, or whatever a custom ``objective`` takes.
        threat: a :class:`Threat` or text like ``"linf:0.1"``; ``eps=inf`` is unbounded (give ``step_size``).
        steps, step_size: iterations and step length (default 2.5 * eps / steps; 2 * eps, the initial step,
            with ``schedule="apgd"``).
        random_start: start from a uniform point of the ball.
        restarts: independent runs; the best per example is kept. With the default objective, later runs
            attack only the examples not yet fooled.
        targeted: descend the objective instead (with cross-entropy: move toward class ``y``).
        objective: ``(model, x_adv, y) -> per-example loss``; default cross-entropy. It may instead return
            ``(loss, success)`` with a bool per example (e.g. misclassified): then ``keep_best`` prefers
            successful iterates and ``early_stop`` applies, and ``y`` must be indexable by a row tensor.
        keep_best: return each example's best iterate (fooled first, then highest objective); with False the
            last iterate is returned and no extra forward pass is spent.
        early_stop: stop updating an example once it is fooled (label losses, or objectives that report
            success).
        return_loss: also return the objective at the returned images (needs ``keep_best``).
        loss: the label loss when no ``objective`` is given: ``"ce"`` (cross-entropy), ``"margin"`` (best
            other logit minus the label's; does not saturate), ``"dlr"`` (the margin over a spread of the top
            logits; scale invariant), or a pair loss toward ``target``: ``"dlr-targeted"``,
            ``"margin-targeted"``.
        target: one wrong class per example for the pair losses; success still means leaving ``y``.
        schedule: ``"fixed"`` steps of ``step_size``, or ``"apgd"``: momentum 0.75 and a step that halves at
            checkpoints where progress stalled, restarting each halved example from its best point (the
            APGD schedule of Croce & Hein 2020).

    Returns:
        Adversarial images in [0, 1] within the threat ball; with ``return_loss``, ``(images, loss)``.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    >>> x, y = torch.rand(2, 1, 2, 2), torch.tensor([0, 1])
    >>> xa = pgd(net, x, y, "linf:0.1", steps=5)
    >>> bool(((xa - x).abs() <= 0.1 + 1e-6).all())
    True
    """
    s = PGDSettings.merged(settings, options)
    steps, step_size, random_start, restarts = s.steps, s.step_size, s.random_start, s.restarts
    targeted, keep_best, early_stop, loss, schedule = s.targeted, s.keep_best, s.early_stop, s.loss, s.schedule
    threat = as_threat(threat)
    check_model_input(model, x)
    if objective is None:
        check_labels(y, x.shape[0], getattr(model, "num_classes", None))
    if step_size is None:
        if schedule == "apgd" and not threat.unbounded:
            step_size = 2.0 * threat.eps
        else:
            step_size = threat.default_step_size(steps)
    if not step_size > 0:
        raise InputError(f"step_size must be positive, got {step_size}")
    loss_fn = label_loss(loss)
    if (loss in PAIR_LOSSES) != (target is not None) and objective is None:
        raise InputError(f"loss {loss!r} " + ("needs target=, one wrong class per example" if target is None else
                         f"takes no target; use one of {', '.join(PAIR_LOSSES)} with target="))
    if target is not None:
        if objective is not None or targeted:
            raise InputError("target= goes with a pair label loss, not with objective= or targeted=True")
        check_labels(target, x.shape[0], getattr(model, "num_classes", None), name="target")
        if (target == y).any():
            raise InputError("target must differ from the label y for every example")
    if return_loss and not keep_best:
        raise InputError("return_loss needs keep_best=True")

    x0 = x.detach().clone()
    with frozen(model), channels_last(model):
        best_x, best_score, best_success = None, None, None
        rows = torch.arange(x0.shape[0], device=x0.device)
        for _ in range(restarts):
            y_rows = y if objective is not None else y[rows]
            xr, sr, succ = _run_once(model, x0[rows], y_rows, threat, steps, step_size, random_start, targeted,
                                     objective, keep_best, early_stop, loss_fn,
                                     None if target is None else target[rows], schedule)
            if best_x is None:
                best_x, best_score, best_success = xr, sr, succ
            else:
                better = _better(sr, succ, best_score[rows], best_success[rows])
                best_x[rows[better]] = xr[better]
                best_score[rows[better]] = sr[better]
                if succ is not None:
                    best_success[rows[better]] = succ[better]
            if not keep_best:
                break
            if objective is None:
                rows = rows[~best_success[rows]]
                if rows.numel() == 0:
                    break
    best_x = best_x.detach()
    if return_loss:
        return best_x, (-best_score if targeted else best_score)
    return best_x


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: Threat | str, *,
         step_size: float | None = None, random_start: bool = False, targeted: bool = False) -> torch.Tensor:
    """Fast gradient sign method: one step of the PGD engine (step ``eps`` by default).

    With ``random_start=True`` and ``step_size=1.25*eps`` this is the attack of fast adversarial training.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    >>> x_adv = fgsm(model, x, y, "linf:0.1")
    >>> bool(((x_adv - x).abs() <= 0.1 + 1e-6).all())
    True
    """
    threat = as_threat(threat)
    return pgd(model, x, y, threat, steps=1, step_size=step_size or threat.eps, random_start=random_start,
               targeted=targeted, keep_best=False)
