"""One place where every task meets core's PGD engine: seed objective, descent, result.

Tasks differ only in their seeds, their objective and what ``y`` carries; the loop itself is core's
:func:`optimist.core.attacks.pgd` (targeted, i.e. descending the task's objective, no random start, best
iterate kept).

The descent runs in batches of :data:`BATCH` seeds. Inside :func:`batches_by` (the application's ``compare``
passes its runner's ``run.map``) the batches are the runner's instead: bounded by the batch it chose from the
model and the image size, and shared out over torchrun's processes.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Any, Callable, Iterator

import torch
from torch import nn

from optimist.core.attacks import Objective, pgd
from optimist.core.checks import check_model_input
from optimist.core.errors import InputError
from optimist.core.runtime import evaluating, model_device
from optimist.generation.budgets import Budget
from optimist.generation.result import TaskResult

BATCH = 256
#: images per forward pass without gradients (target representations, top units): bounded at any image size
NO_GRAD_BATCH = 32
#: the runner's ``map`` (``fn(chunk, seeds_slice)`` over chunks, gathered) while :func:`batches_by` is active
_MAPPER: ContextVar[Callable[..., Any] | None] = ContextVar("optimist_generation_batches", default=None)


@contextlib.contextmanager
def batches_by(mapper: Callable[..., Any]) -> Iterator[None]:
    """Run every task's descent through ``mapper`` (e.g. ``run.map``) instead of fixed batches of 256.

    >>> from optimist.core.application.shards import map_chunks
    >>> with batches_by(lambda fn, x: map_chunks(fn, [x], batch_size=2, seed=0)):
    ...     pass
    """
    token = _MAPPER.set(mapper)
    try:
        yield
    finally:
        _MAPPER.reset(token)


def check_budget(budget: Budget) -> Budget:
    if not isinstance(budget, Budget):
        raise InputError(f"budget must be an optimist.generation.Budget, got {type(budget).__name__}")
    return budget


def run_task(model: nn.Module, task: str, seeds: torch.Tensor, y, objective: Objective, budget: Budget, *,
             targets: torch.Tensor | None = None, reference: torch.Tensor | None = None,
             settings: dict | None = None) -> TaskResult:
    """Descend ``objective`` from ``seeds`` inside ``budget`` (an L2 ball centred on the seeds) with core's PGD.

    ``y`` is whatever ``objective`` reads (labels, target features, a :class:`~optimist.generation.objectives.Packed`);
    it is sliced with the seeds into batches of 256 (or the runner's, inside :func:`batches_by`).
    """
    check_model_input(model, seeds, "seeds")
    budget = check_budget(budget)
    device = model_device(model)

    def descend(lo: int, xs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        xs, ys = xs.to(device), y[lo:lo + len(xs)]
        ys = ys.to(device) if hasattr(ys, "to") else ys
        with torch.no_grad():
            start = objective(model, xs, ys).detach().cpu()
        x_out, loss = pgd(model, xs, ys, budget.threat, steps=budget.steps, step_size=budget.step_size,
                          random_start=False, targeted=True, objective=objective, keep_best=True, return_loss=True)
        return start, x_out.cpu(), loss.detach().cpu()

    mapper = _MAPPER.get()
    with evaluating(model):
        if seeds.shape[0] == 0:
            parts = []
        elif mapper is not None:
            parts = [mapper(lambda chunk, xs: descend(chunk.start, xs), seeds)]
        else:
            parts = [descend(lo, seeds[lo:lo + BATCH]) for lo in range(0, seeds.shape[0], BATCH)]
    starts, images, losses = ([p[i] for p in parts] for i in range(3))
    return TaskResult(
        task=task,
        images=torch.cat(images) if images else seeds.clone(),
        objective=torch.cat(losses) if losses else torch.empty(0),
        seeds=seeds.detach().cpu().clone(),
        seed_objective=torch.cat(starts) if starts else torch.empty(0),
        targets=None if targets is None else targets.detach().cpu().clone(),
        reference=None if reference is None else reference.detach().cpu().clone(),
        settings={"task": task, **budget.to_dict(), "objective": getattr(objective, "__name__", str(objective)),
                  **(settings or {})},
    )
