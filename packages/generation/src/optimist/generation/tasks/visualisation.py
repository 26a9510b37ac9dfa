"""Feature visualisation (Engstrom et al. 2019): maximise one unit of the penultimate representation.

Starting from an image (or noise), PGD descends -R(x)_i. For a robust model the added pattern is a
recognisable, localised feature; for a standard one it is high-frequency noise.
"""

from __future__ import annotations

import torch
from torch import nn

from optimist.core.checks import check_model_input
from optimist.core.errors import InputError
from optimist.core.runtime import evaluating, model_device
from optimist.generation.budgets import VISUALISATION, Budget
from optimist.generation.objectives import negative_unit, representation
from optimist.generation.result import TaskResult
from optimist.generation.tasks.engine import NO_GRAD_BATCH, run_task


def top_units(model: nn.Module, images: torch.Tensor, *, k: int = 4) -> torch.Tensor:
    """The ``k`` representation units with the highest mean activation on ``images`` (live, informative units).

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> from optimist.generation import Budget
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> units = top_units(model, torch.rand(4, 1, 28, 28), k=2)
    >>> units.shape, units.dtype
    (torch.Size([2]), torch.int64)
    """
    check_model_input(model, images, "images")
    with evaluating(model), torch.no_grad():
        r = torch.cat([representation(model, t.to(model_device(model))).cpu()  # bounded: no-grad batches
                       for t in images.split(NO_GRAD_BATCH)])
    if not 1 <= k <= r.shape[1]:
        raise InputError(f"k must be in [1, {r.shape[1]}], got {k}")
    return r.mean(0).topk(k).indices


def visualise(model: nn.Module, seeds: torch.Tensor, units: torch.Tensor | int,
              *, budget: Budget = VISUALISATION) -> TaskResult:
    """Maximise representation unit ``units[i]`` from ``seeds[i]`` (an int applies one unit to all seeds).

    The objective values returned are ``-R(x)_i`` (lower = more activated).

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> from optimist.generation import Budget
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> from optimist.generation import noise_seeds
    >>> seeds = noise_seeds(4, generator=torch.Generator().manual_seed(0))
    >>> result = visualise(model, seeds, 3, budget=Budget(eps=float("inf"), step_size=0.1, steps=3))
    >>> result.images.shape
    torch.Size([4, 1, 28, 28])
    """
    check_model_input(model, seeds, "seeds")
    n = seeds.shape[0]
    units = torch.full((n,), int(units), dtype=torch.long) if isinstance(units, int) else torch.as_tensor(units)
    dim = getattr(model, "feature_dim", None)
    if units.ndim != 1 or units.is_floating_point() or len(units) != n:
        raise InputError(f"units must be an int or a 1-D integer tensor with {n} entries, got {tuple(units.shape)}")
    if n and (units.min() < 0 or (dim is not None and units.max() >= dim)):
        raise InputError(f"units must lie in [0, {dim}), got [{units.min().item()}, {units.max().item()}]")
    result = run_task(model, "feature-visualisation", seeds, units.long(), negative_unit, budget)
    result.extras["unit"] = units.long().clone()
    return result
