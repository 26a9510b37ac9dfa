"""Signatures of the public attack, evaluation and application functions: the data first, everything after it
keyword-only, and at most ten parameters (a function with more takes a settings object)."""

from __future__ import annotations

import importlib
import inspect

import pytest

#: module -> {function: how many leading parameters are data (model, images, labels, threat, ...)}
DATA_FIRST = {
    "optimist.core.attacks": {"pgd": 4, "fgsm": 4, "deepfool": 3, "square": 4},
    "optimist.core.evaluate": {"robust_accuracy": 3},
    "optimist.core.sanity": {"gradient_masking_report": 3},
    "optimist.interpretability": {"attribute": 3, "deletion_auc": 4, "insertion_auc": 4, "max_sensitivity": 3,
                                  "relative_infidelity": 4, "score_maps": 2, "compare": 2},
    "optimist.generation": {"generate": 3, "inpaint": 4, "invert": 2, "sketch_to_image": 3, "super_resolve": 3,
                            "translate": 3, "visualise": 3, "run_showcase": 4, "compare": 2},
    "optimist.geometry": {"deepfool_margins": 3, "subspace_margins": 2, "margin_distribution": 2,
                          "input_hessian_eigenvalue": 3, "local_linearity_gap": 4, "universal_perturbation": 3,
                          "compare": 2},
    "optimist.shifts": {"fourier_heatmap": 4, "compare": 2},
    "optimist.transfer": {"extract_features": 2, "compute_features": 2, "finetune": 2, "finetune_accuracy": 3,
                          "fit_probe": 2, "run_transfer": 2, "compare": 2},
}
CASES = [(m, f, k) for m, fs in DATA_FIRST.items() for f, k in fs.items()]
PUBLIC = ["optimist.core.attacks", "optimist.core.evaluate", "optimist.core.sanity", "optimist.core.application",
          "optimist.core.testing", "optimist.interpretability", "optimist.generation", "optimist.geometry",
          "optimist.shifts", "optimist.transfer"]


@pytest.mark.parametrize(("module", "name", "k"), CASES, ids=[f"{m.split('.')[-1]}.{f}" for m, f, _ in CASES])
def test_everything_after_the_data_is_keyword_only(module, name, k):
    params = list(inspect.signature(getattr(importlib.import_module(module), name)).parameters.values())
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert len(positional) <= k, f"{module}.{name}: {positional[k:]} should be keyword-only"


@pytest.mark.parametrize("module", PUBLIC)
def test_at_most_ten_parameters(module):
    mod = importlib.import_module(module)
    wide = {n: len(inspect.signature(f).parameters) for n in getattr(mod, "__all__", dir(mod))
            if inspect.isfunction(f := getattr(mod, n)) and not n.startswith("_")
            and f.__module__.startswith("optimist.")}
    assert all(v <= 10 for v in wide.values()), {n: v for n, v in wide.items() if v > 10}


def test_settings_objects_and_keywords_agree():
    import torch

    from optimist.core.attacks import PGDSettings, pgd
    from optimist.core.errors import SettingsError

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x, y = torch.rand(3, 1, 2, 2), torch.tensor([0, 1, 2])
    torch.manual_seed(0)
    a = pgd(net, x, y, "linf:0.1", settings=PGDSettings(steps=4, restarts=2))
    torch.manual_seed(0)
    b = pgd(net, x, y, "linf:0.1", steps=4, restarts=2)
    assert torch.equal(a, b)
    with pytest.raises(SettingsError, match="unknown setting.*'stepz'.*valid keys: steps"):
        pgd(net, x, y, "linf:0.1", stepz=4)
    with pytest.raises(SettingsError, match="restarts"):
        pgd(net, x, y, "linf:0.1", restarts=0)
