"""The seven tasks; each drives core's PGD engine with its own objective and returns a TaskResult."""

from optimist.generation.tasks.inpainting import corrupt, inpaint, square_mask, unmasked_rms
from optimist.generation.tasks.inversion import invert, noise_seeds
from optimist.generation.tasks.sketch import edge_map, sketch_to_image
from optimist.generation.tasks.superres import downsample, super_resolve, upsample
from optimist.generation.tasks.synthesis import generate
from optimist.generation.tasks.translation import translate
from optimist.generation.tasks.visualisation import top_units, visualise

__all__ = [
    "corrupt", "downsample", "edge_map", "generate", "inpaint", "invert", "noise_seeds", "sketch_to_image",
    "square_mask", "super_resolve",
    "top_units", "translate", "unmasked_rms", "upsample", "visualise",
]
