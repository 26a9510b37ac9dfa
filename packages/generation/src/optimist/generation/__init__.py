"""optimist.generation: image synthesis and manipulation with a single (robust) classifier.

Seven tasks, each a call into core's PGD engine with its own objective: class-conditional generation from
per-class Gaussian seeds, inpainting, super-resolution, image-to-image translation, sketch-to-image,
representation inversion and feature visualisation (Santurkar et al. 2019; Engstrom et al. 2019); each returns a
:class:`TaskResult`. :func:`compare` is the application: every task with several models from the same seeds,
judged by instruments that generated nothing (an independent network: accuracy, noised accuracy, Fréchet
distance; :class:`PixelJudge`: a k-NN classifier and a realism score in pixel space; MSE/SSIM), with intervals
and a claims table, one :class:`~optimist.core.application.Result` (its demo and
``optimist generation --model L=SPEC ...`` are that same call). Diffusion guidance lives in the
``optimist.generation.diffusion`` subpackage (imported on its own).
"""

from optimist.core.application import Application
from optimist.generation._application import GenerationSettings, compare
from optimist.generation.budgets import DEFAULTS, Budget
from optimist.generation.evaluate import Evaluator, judge, train_evaluator
from optimist.generation.judges import PixelJudge
from optimist.generation.metrics import frechet_distance, mse, ssim
from optimist.generation.result import TaskResult
from optimist.generation.seeds import ClassGaussian
from optimist.generation.showcase import ShowcaseConfig, run_showcase
from optimist.generation.tasks import (
    downsample,
    edge_map,
    generate,
    inpaint,
    invert,
    noise_seeds,
    sketch_to_image,
    square_mask,
    super_resolve,
    top_units,
    translate,
    visualise,
)

APPLICATION = Application(
    name="generation",
    compare=compare,
    settings=GenerationSettings,
    description="Image synthesis with one classifier, robust versus standard: class generation, inpainting, "
                "super-resolution, translation, sketch-to-image, inversion and feature visualisation from the same "
                "seeds, judged by an independent network, a pixel k-NN classifier and a realism score.",
    demo_models=("fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/l2-3"),
    demo_settings={"sweep": "shipped"},
    quick_models=("fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/linf-0.1"),
    quick_settings={"sweep": "", "per_class": 2, "n": 10, "n_units": 4, "steps_factor": 0.25, "evaluator": "mlp",
                    "reference_size": 500, "bootstrap": 20},
    tiny_settings={"per_class": 2, "n": 4, "n_units": 2, "steps_factor": 0.05, "evaluator": "mlp",
                   "reference_size": 40, "bootstrap": 20},
)

__all__ = [
    "APPLICATION", "Budget", "ClassGaussian", "DEFAULTS", "Evaluator", "GenerationSettings", "PixelJudge",
    "ShowcaseConfig", "TaskResult", "compare", "downsample", "edge_map", "frechet_distance", "generate", "inpaint",
    "invert", "judge", "mse", "noise_seeds", "run_showcase", "sketch_to_image", "square_mask", "ssim",
    "super_resolve", "top_units", "train_evaluator", "translate", "visualise",
]
