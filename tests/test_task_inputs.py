"""The public task functions below every ``compare`` check their inputs with core's checks before any work:
8-bit images (x 255) and images with the wrong number of channels are refused with the error that names the fix."""

from __future__ import annotations

import pytest
import torch

from optimist.core.errors import ImageRangeError, ModelMismatchError
from optimist.core.testing import reference_models
from optimist.generation import Budget, generate, inpaint, invert, sketch_to_image, super_resolve, translate, visualise
from optimist.geometry import (
    deepfool_margins,
    input_hessian_eigenvalue,
    local_linearity_gap,
    subspace_margins,
    universal_perturbation,
)
from optimist.interpretability import (
    attribute,
    deletion_auc,
    insertion_auc,
    max_sensitivity,
    relative_infidelity,
)
from optimist.shifts import corrupt, fourier_heatmap

B = Budget(eps=1.0, step_size=0.1, steps=1)
Y = torch.arange(4) % 10


def _tasks():
    maps = torch.rand(4, 1, 28, 28)
    return {
        "attribute": lambda m, x: attribute(m, x, Y),
        "deletion_auc": lambda m, x: deletion_auc(m, x, maps, Y),
        "insertion_auc": lambda m, x: insertion_auc(m, x, maps, Y),
        "relative_infidelity": lambda m, x: relative_infidelity(m, x, maps, Y),
        "max_sensitivity": lambda m, x: max_sensitivity(lambda z, t: z, x, Y),
        "deepfool_margins": lambda m, x: deepfool_margins(m, x),
        "subspace_margins": lambda m, x: subspace_margins(m, x, block=14, stride=14),
        "universal_perturbation": lambda m, x: universal_perturbation(m, x, max_passes=1),
        "input_hessian_eigenvalue": lambda m, x: input_hessian_eigenvalue(m, x, Y, iters=1),
        "local_linearity_gap": lambda m, x: local_linearity_gap(m, x, Y, steps=1),
        "fourier_heatmap": lambda m, x: fourier_heatmap(m, x, Y, 1.0, stride=14),
        "corrupt": lambda m, x: corrupt(x, "gaussian_noise", 1),
        "generate": lambda m, x: generate(m, x, Y, budget=B),
        "inpaint": lambda m, x: inpaint(m, x, Y, torch.ones(4, 1, 28, 28), budget=B),
        "translate": lambda m, x: translate(m, x, (Y + 1) % 10, budget=B),
        "super_resolve": lambda m, x: super_resolve(m, x, Y, budget=B),
        "sketch_to_image": lambda m, x: sketch_to_image(m, x, Y, budget=B),
        "visualise": lambda m, x: visualise(m, x, 0, budget=B),
        "invert": lambda m, x: invert(m, x, budget=B),
    }


TASKS = _tasks()
MODEL_FREE = {"max_sensitivity", "corrupt"}


@pytest.fixture(scope="module")
def model():
    return reference_models("sequential")["cnn-a"].eval()


@pytest.mark.parametrize("name", sorted(TASKS))
def test_8_bit_images_are_refused(name, model):
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ImageRangeError, match=r"\[0, 1\]"):
        TASKS[name](model, x * 255)


@pytest.mark.parametrize("name", sorted(set(TASKS) - MODEL_FREE))
def test_images_that_do_not_fit_the_model_are_refused(name, model):
    x = torch.rand(4, 3, 28, 28, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ModelMismatchError, match="1-channel images but"):
        TASKS[name](model, x)
