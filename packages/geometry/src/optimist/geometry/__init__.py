"""optimist.geometry: the geometry of decision boundaries, robust versus standard.

Instruments (each compares models on the same images):

* :func:`margin_distribution` / :func:`deepfool_margins`: per-example minimal L2 / L-inf perturbations (DeepFool).
* :func:`subspace_margins`: margins restricted to diagonal blocks of the 2-D DCT basis ("Hold me tight!").
* :func:`input_hessian_eigenvalue`, :func:`local_linearity_gap`: curvature of the loss in input space (CURE).
* :func:`universal_perturbation`, :func:`fooling_rate`: one perturbation for a whole dataset.

:func:`compare` runs them all on several models and the same images (the application contract); its demo and
``optimist geometry --model L=SPEC ... --data SPEC --out DIR`` are that same call.
"""

from optimist.core.application import Application
from optimist.geometry.compare import GeometrySettings, compare
from optimist.geometry.curvature import (
    CurvatureResult,
    InputFunction,
    hessian_vector_product,
    input_hessian_eigenvalue,
    local_linearity_gap,
    scalar_function,
)
from optimist.geometry.dct import block_frequency, block_starts, dct_block_basis, dct_block_projector, dct_matrix
from optimist.geometry.margins import MarginResult, deepfool_margins, margin_distribution, summarize
from optimist.geometry.subspace_margins import SubspaceMargins, subspace_margins
from optimist.geometry.universal import UniversalResult, fooling_rate, perturb, universal_perturbation

APPLICATION = Application(
    name="geometry",
    compare=compare,
    settings=GeometrySettings,
    description="Decision-boundary geometry, robust versus standard: DeepFool margins (L2, L-inf), margins inside "
                "DCT frequency blocks, input-Hessian curvature and the linearity gap, universal perturbations.",
    quick_settings={"n": 64, "n_margin": 16, "n_subspace": 8, "stride": 10, "n_curvature": 8, "power_iters": 5,
                    "gap_steps": 3, "n_universal": 32, "universal_passes": 1, "bootstrap": 200},
    tiny_settings={"n": 8, "n_margin": 4, "n_subspace": 2, "block": 16, "stride": 16, "n_curvature": 2,
                   "power_iters": 2, "gap_steps": 2, "n_universal": 4, "universal_passes": 1, "universal_batch": 4,
                   "universal_candidates": 2, "num_candidates": 3, "bootstrap": 100},
)

__all__ = [
    "APPLICATION",
    "CurvatureResult",
    "GeometrySettings",
    "InputFunction",
    "MarginResult",
    "SubspaceMargins",
    "UniversalResult",
    "block_frequency",
    "block_starts",
    "compare",
    "dct_block_basis",
    "dct_block_projector",
    "dct_matrix",
    "deepfool_margins",
    "fooling_rate",
    "hessian_vector_product",
    "input_hessian_eigenvalue",
    "local_linearity_gap",
    "margin_distribution",
    "perturb",
    "scalar_function",
    "subspace_margins",
    "summarize",
    "universal_perturbation",
]
