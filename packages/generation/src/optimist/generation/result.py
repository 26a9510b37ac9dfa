"""The result every task returns: images, per-example objective values (at the seed and at the end), settings."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class TaskResult:
    """Output of one generation or manipulation task on one model.

    Attributes:
        task: task name ("class-generation", "inpainting", ...).
        images: the produced images, (N, C, H, W) in [0, 1].
        objective: the task's objective at ``images``, one value per example (lower is better).
        seeds: the starting images PGD ran from (also the centre of the budget ball).
        seed_objective: the objective at ``seeds``; ``seed_objective - objective`` is the improvement.
        targets: the class each image should show (None where the task has no class, e.g. feature visualisation).
        reference: ground-truth images where the task has one (inpainting, super-resolution, inversion).
        settings: the budget and task parameters that produced the result.
        extras: further per-example diagnostics (e.g. how far unmasked pixels moved in inpainting).
    """

    task: str
    images: torch.Tensor
    objective: torch.Tensor
    seeds: torch.Tensor
    seed_objective: torch.Tensor
    targets: torch.Tensor | None = None
    reference: torch.Tensor | None = None
    settings: dict = field(default_factory=dict)
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def improvement(self) -> torch.Tensor:
        """Per-example decrease of the objective from the seed (positive = the task made progress)."""
        return self.seed_objective - self.objective

    @property
    def distance(self) -> torch.Tensor:
        """Per-example L2 distance travelled from the seed."""
        return (self.images - self.seeds).flatten(1).norm(dim=1)
