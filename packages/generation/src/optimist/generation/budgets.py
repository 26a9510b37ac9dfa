"""L2 budgets (eps, step size, steps) for every task, with defaults scaled from Santurkar et al. to 28x28.

Santurkar et al. (2019) run L2 PGD on 224x224x3 images (150,528 dimensions) in [0, 1] pixel space. An L2
radius divided by the square root of the dimension is the root-mean-square change per pixel, so scaling
eps by sqrt(784 / 150,528) = 0.072 keeps the same per-pixel change on a 28x28 grey image (super-resolution:
8 -> 0.58; inpainting: 21.6 -> 1.56; translation: 80 -> 5.8; sketch/generation: 40 -> 2.9). Those radii are
too small to draw a garment from a 4x4 seed on a 28x28 image, so the defaults below are the radii the sweep
(:mod:`optimist.generation.sweep`) measured best for telling robust from standard generators.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping

from optimist.core.attacks import Threat
from optimist.core.errors import InputError

IMAGENET_DIM = 3 * 224 * 224
FMNIST_DIM = 28 * 28


def scale_l2_eps(eps: float, dim: int = FMNIST_DIM, reference_dim: int = IMAGENET_DIM) -> float:
    """An L2 radius for ``dim`` values per image with the same per-pixel RMS change as ``eps`` at ``reference_dim``."""
    if dim < 1 or reference_dim < 1:
        raise InputError(f"dimensions must be positive, got dim={dim}, reference_dim={reference_dim}")
    return float(eps) * math.sqrt(dim / reference_dim)


@dataclass(frozen=True)
class Budget:
    """An L2 ball of radius ``eps`` (``math.inf``: unbounded) explored by ``steps`` PGD steps of ``step_size``."""

    eps: float
    step_size: float
    steps: int

    def __post_init__(self):
        if math.isnan(self.eps) or self.eps <= 0:
            raise InputError(f"eps must be positive (or math.inf for an unbounded task), got {self.eps}")
        if not self.step_size > 0:
            raise InputError(f"step_size must be positive, got {self.step_size}")
        if int(self.steps) != self.steps or self.steps < 1:
            raise InputError(f"steps must be a positive integer, got {self.steps}")

    @property
    def threat(self) -> Threat:
        return Threat("l2", self.eps)

    def with_(self, **changes) -> "Budget":
        """A copy with some fields changed, e.g. ``GENERATION.with_(steps=200)``."""
        return Budget(**{**asdict(self), **changes})

    def to_dict(self) -> dict:
        return {"norm": "l2", "eps": self.eps, "step_size": self.step_size, "steps": self.steps}


# Defaults for Fashion-MNIST (28x28 grey, pixel space [0, 1]): what optimist.generation.sweep_table.choose picks from
# the shipped sweep (data/sweep.csv; the report draws it): per task, the grid point where the L2 3 model beats the
# standard one on both pixel judges by the largest summed margin (k-NN accuracy gained + realism lowered, quoted
# below as L2 3 vs standard). The network judge saturates for every model at these radii. The scaled ImageNet
# radii (scale_l2_eps) are the sweep's smallest points. Bounded step sizes are 2.5 eps / steps.
# Class generation was re-chosen for the converged zoo by the same criterion on other seeds than the reported ones
# (compare(..., seed=1, tasks=("class-generation",)), 4x4 class-Gaussian seeds, 100 steps): k-NN gain plus realism
# drop of L2 3 over standard was 0.50, 0.50, 0.43, 0.38, 0.19 at eps 3, 4, 5, 6, 8. At eps 4 the L2 3 grid shows
# garments; the pilot's eps 8 draws sharper silhouettes but saturates them (realism 1.64 vs the standard's 1.33).
GENERATION = Budget(eps=4.0, step_size=0.1, steps=100)
INPAINTING = Budget(eps=3.0, step_size=0.075, steps=100)  # k-NN 0.90 vs 0.80, realism 1.21 vs 1.24
SUPER_RESOLUTION = Budget(eps=5.0, step_size=0.125, steps=100)  # k-NN 1.00 vs 0.83, realism 1.24 vs 1.47
TRANSLATION = Budget(eps=8.0, step_size=0.2, steps=100)  # k-NN 1.00 vs 0.33, realism 1.49 vs 1.87
INVERSION = Budget(eps=math.inf, step_size=0.15, steps=120)  # k-NN 0.77 vs 0.17, realism 1.55 vs 2.52; no prior
VISUALISATION = Budget(eps=math.inf, step_size=0.15, steps=60)  # not swept (no class to judge it by)
SKETCH = Budget(eps=5.0, step_size=0.125, steps=100)  # k-NN 0.80 vs 0.53, realism 1.73 vs 1.88

DEFAULTS = {
    "class-generation": GENERATION,
    "inpainting": INPAINTING,
    "super-resolution": SUPER_RESOLUTION,
    "translation": TRANSLATION,
    "sketch-to-image": SKETCH,
    "inversion": INVERSION,
    "feature-visualisation": VISUALISATION,
}


def for_images(dim: int, budgets: Mapping[str, Budget] = DEFAULTS) -> dict[str, Budget]:
    """The budgets (default: :data:`DEFAULTS`, chosen at 28x28) for images of ``dim`` values: every radius and step
    size times sqrt(dim / 784), the same per-pixel RMS change (x 13.9 at 224x224x3; unchanged at 28x28).

    >>> round(for_images(3 * 224 * 224)["class-generation"].eps, 1), for_images(FMNIST_DIM) == DEFAULTS
    (55.4, True)
    """
    factor = scale_l2_eps(1.0, dim, FMNIST_DIM)
    return {task: b.with_(eps=b.eps * factor, step_size=b.step_size * factor)
            for task, b in budgets.items()}
