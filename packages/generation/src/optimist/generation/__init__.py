"""optimist.generation: image synthesis and manipulation with a single (robust) classifier.

Six tasks, each a call into core's PGD engine with its own objective: class-conditional generation from
per-class Gaussian seeds, inpainting, super-resolution, image-to-image translation, representation
inversion and feature visualisation (Santurkar et al. 2019; Engstrom et al. 2019). Every task returns a
:class:`TaskResult`. Quality is judged by an independent evaluator (:mod:`optimist.generation.evaluate`)
with Fréchet distance, SSIM/MSE and diversity (:mod:`optimist.generation.metrics`). Diffusion guidance
lives in the ``optimist.generation.diffusion`` subpackage (imported on its own).
"""

from optimist.generation.budgets import DEFAULTS, Budget, scale_l2_eps
from optimist.generation.evaluate import (
    Evaluator,
    RealReference,
    compare,
    improvement_summary,
    noised_accuracy,
    quality,
    real_floor,
    train_evaluator,
)
from optimist.generation.metrics import PCAProjection, class_diversity, frechet_distance, mse, ssim
from optimist.generation.objectives import (
    Packed,
    class_loss,
    feature_distance,
    inpainting_loss,
    negative_unit,
    targeted_loss,
)
from optimist.generation.result import TaskResult
from optimist.generation.seeds import ClassGaussian, class_labels
from optimist.generation.showcase import ShowcaseConfig, ShowcaseResult, real_reference, run_showcase
from optimist.generation.tasks import (
    corrupt,
    downsample,
    generate,
    inpaint,
    invert,
    noise_seeds,
    square_mask,
    super_resolve,
    top_units,
    translate,
    unmasked_rms,
    upsample,
    visualise,
)

__all__ = [
    "Budget", "ClassGaussian", "DEFAULTS", "Evaluator", "PCAProjection", "Packed", "RealReference",
    "ShowcaseConfig", "ShowcaseResult", "TaskResult", "class_diversity", "class_labels", "class_loss", "compare",
    "corrupt", "downsample", "feature_distance", "frechet_distance", "generate", "improvement_summary", "inpaint",
    "inpainting_loss", "invert", "mse", "negative_unit", "noise_seeds", "noised_accuracy", "quality", "real_floor",
    "real_reference", "run_showcase", "scale_l2_eps", "square_mask", "ssim", "super_resolve", "targeted_loss",
    "top_units", "train_evaluator", "translate", "unmasked_rms", "upsample", "visualise",
]
