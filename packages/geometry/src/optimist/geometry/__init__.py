"""optimist.geometry: the geometry of decision boundaries, robust versus standard.

Instruments (each compares models on the same images):

* :func:`margin_distribution` / :func:`deepfool_margins`: per-example minimal L2 / L-inf perturbations (DeepFool).
* :func:`subspace_margins`: margins restricted to diagonal blocks of the 2-D DCT basis ("Hold me tight!").
* :func:`input_hessian_eigenvalue`, :func:`local_linearity_gap`: curvature of the loss in input space (CURE).
* :func:`universal_perturbation`, :func:`fooling_rate`: one perturbation for a whole dataset.
"""

from optimist.geometry.curvature import (
    CurvatureResult,
    InputFunction,
    hessian_vector_product,
    input_hessian_eigenvalue,
    local_linearity_gap,
    scalar_function,
)
from optimist.geometry.dct import block_frequency, block_starts, dct_block_basis, dct_matrix
from optimist.geometry.margins import MarginResult, deepfool_margins, margin_distribution, summarize
from optimist.geometry.subspace_margins import SubspaceMargins, subspace_margins
from optimist.geometry.universal import UniversalResult, fooling_rate, perturb, universal_perturbation

__all__ = [
    "CurvatureResult",
    "InputFunction",
    "MarginResult",
    "SubspaceMargins",
    "UniversalResult",
    "block_frequency",
    "block_starts",
    "dct_block_basis",
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
