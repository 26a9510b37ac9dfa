"""One place where every task meets core's PGD engine: seed objective, descent, result.

Tasks differ only in their seeds, their objective and what ``y`` carries; the loop itself is core's
:func:`optimist.core.attacks.pgd` (targeted, i.e. descending the task's objective, no random start, best
iterate kept).
"""

from __future__ import annotations

import torch
from torch import nn

from optimist.core.attacks import Objective, pgd
from optimist.core.checks import check_model_input
from optimist.core.errors import InputError
from optimist.core.runtime import evaluating, model_device
from optimist.generation.budgets import Budget
from optimist.generation.result import TaskResult

BATCH = 256


def check_budget(budget: Budget) -> Budget:
    if not isinstance(budget, Budget):
        raise InputError(f"budget must be an optimist.generation.Budget, got {type(budget).__name__}")
    return budget


def run_task(model: nn.Module, task: str, seeds: torch.Tensor, y, objective: Objective, budget: Budget, *,
             targets: torch.Tensor | None = None, reference: torch.Tensor | None = None,
             settings: dict | None = None) -> TaskResult:
    """Descend ``objective`` from ``seeds`` inside ``budget`` (an L2 ball centred on the seeds) with core's PGD.

    ``y`` is whatever ``objective`` reads (labels, target features, a :class:`~optimist.generation.objectives.Packed`);
    it is sliced with the seeds into batches of 256.
    """
    check_model_input(model, seeds, "seeds")
    budget = check_budget(budget)
    device = model_device(model)
    images, losses, starts = [], [], []
    with evaluating(model):
        for lo in range(0, seeds.shape[0], BATCH):
            xs = seeds[lo:lo + BATCH].to(device)
            ys = y[lo:lo + BATCH]
            ys = ys.to(device) if hasattr(ys, "to") else ys
            with torch.no_grad():
                starts.append(objective(model, xs, ys).detach().cpu())
            x_out, loss = pgd(model, xs, ys, budget.threat, steps=budget.steps, step_size=budget.step_size,
                              random_start=False, targeted=True, objective=objective, keep_best=True,
                              return_loss=True)
            images.append(x_out.cpu())
            losses.append(loss.detach().cpu())
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
