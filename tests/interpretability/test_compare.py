"""score_maps(): the table, the random baseline, the figures; and the robust-versus-standard claim."""

from __future__ import annotations

import importlib

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from optimist.core.errors import InputError  # noqa: E402
from optimist.core.models import build_model  # noqa: E402
from optimist.interpretability import METRICS, RANDOM, gradient_alignment, score_maps  # noqa: E402

TINY = dict(n=6, steps=4, infidelity_samples=2, sensitivity_n=3, sensitivity_samples=2, n_figure=2,
            method_options={"integrated-gradients": {"n_steps": 4}, "smoothgrad": {"nt_samples": 2}}, progress=False)


@pytest.fixture(scope="module")
def two_models():
    torch.manual_seed(0)
    return {"a": build_model("small-cnn").eval(), "b": build_model("small-cnn").eval()}


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    return torch.rand(8, 1, 28, 28, generator=g), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])


def test_compare_table_and_figures(two_models, data):
    cmp = score_maps(two_models, data, methods=["gradient", "smoothgrad"], **TINY)
    t = cmp.table
    assert set(t["model"]) == {"a", "b"} and set(t["method"]) == {"gradient", "smoothgrad", RANDOM}
    assert set(t["metric"]) == set(METRICS)
    assert len(t) == 2 * 3 * len(METRICS)
    assert (t["n"] == t["metric"].map(lambda m: 3 if m == "sensitivity" else 6)).all()
    assert ((t["ci_low"] <= t["mean"]) & (t["mean"] <= t["ci_high"])).all()
    assert cmp.summary().shape == (6, len(METRICS)) and "±" in cmp.summary().iloc[0, 0]
    assert cmp.means().loc[("a", RANDOM), "cosine"] < 0.2
    d = cmp.differences("a")
    assert set(d["model"]) == {"b"} and len(d) == 3 * len(METRICS)
    assert cmp.images.shape == (2, 1, 28, 28) and cmp.maps[("b", "smoothgrad")].shape == (2, 1, 28, 28)
    assert cmp.accuracy.keys() == {"a", "b"}
    fig = cmp.grid_figure()
    assert len(fig.axes) == 2 * (1 + 2 * 3)
    fig = cmp.epsilon_figure({"a": (None, 0.0), "b": ("linf", 0.1)}, metrics=["alignment", "deletion"])
    assert len(fig.axes) == 2


def test_compare_label_target_and_random_is_shared(two_models, data):
    cmp = score_maps(two_models, data, methods=["gradient"], metrics=["alignment", "gini"], target="label", **TINY)
    pe = cmp.per_example
    ra = pe[(pe["method"] == RANDOM) & (pe["metric"] == "gini")]
    # the same noise map for every model: the model-free metrics agree exactly
    assert ra[ra["model"] == "a"]["value"].tolist() == ra[ra["model"] == "b"]["value"].tolist()


def test_compare_bad_input(two_models, data):
    with pytest.raises(ValueError, match="integrated-gradients"):
        score_maps(two_models, data, methods=["occlusion"], **TINY)
    with pytest.raises(ValueError, match="unknown metric"):
        score_maps(two_models, data, metrics=["roar"], **TINY)
    with pytest.raises(ValueError, match="empty"):
        score_maps({}, data, **TINY)
    with pytest.raises(ValueError, match="needs labels"):
        score_maps(two_models, data[0], target="label", **TINY)


def test_robust_gradients_are_more_aligned(small_pair, fmnist_test):
    """The claim on the zoo's small pair: the robust model's logit gradient points along the image."""
    x = fmnist_test.images[:64]
    std = gradient_alignment(small_pair["standard"], x)
    rob = gradient_alignment(small_pair["robust"], x)
    assert rob["mean_alignment"] > 1.5 * std["mean_alignment"]
    assert rob["mean_cosine"] > std["mean_cosine"] + 0.05
    assert (rob["cosine"] > std["cosine"]).float().mean() > 0.75  # image by image, not only on average


class _FunctionalRelu(torch.nn.Module):
    """A classifier whose only ReLU is ``F.relu`` in forward: guided backprop cannot reach it."""

    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(28 * 28, 16), torch.nn.Linear(16, 10)

    def forward(self, x):
        return self.b(torch.nn.functional.relu(self.a(x.flatten(1))))


def test_guided_backprop_is_checked_before_any_work(two_models, data, monkeypatch):
    compare_module = importlib.import_module("optimist.interpretability.compare")  # the package's name is a function
    work = []
    for name in ("attribute", "output_change", "predicted_class"):
        monkeypatch.setattr(compare_module, name, lambda *a, name=name, **k: work.append(name))
    with pytest.raises(InputError, match="calls relu 1 time.*as a function"):
        score_maps({**two_models, "f": _FunctionalRelu()}, data, methods=["gradient", "guided-backprop"], **TINY)
    assert work == []  # refused before the first model's first map


def test_guided_backprop_copy_is_recorded(two_models, data):
    inplace = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 16), torch.nn.ReLU(inplace=True),
                                  torch.nn.Linear(16, 10)).eval()
    before = [(m, getattr(m, "inplace", None)) for m in inplace.modules()]
    cmp = score_maps({"a": two_models["a"], "i": inplace}, data, methods=["guided-backprop"],
                     metrics=["gini", "deletion", "sensitivity"], **TINY)
    assert cmp.settings["guided_backprop"]["a"] == "ran on the model itself"
    assert cmp.settings["guided_backprop"]["i"].startswith("ran on a copy with 1 ReLU modules replaced")
    assert [(m, getattr(m, "inplace", None)) for m in inplace.modules()] == before


def test_application_records_guided_backprop_on_torchvision_resnet18():
    """The application on a torchvision ResNet-18 (in-place, repeated ReLUs): it runs and its record says how."""
    torchvision = pytest.importorskip("torchvision")
    from optimist.core.models import wrap
    from optimist.interpretability import compare

    torch.manual_seed(0)
    model = wrap(torchvision.models.resnet18(num_classes=10), num_classes=10, in_channels=3, image_size=32)
    modules = list(model.modules())
    g = torch.Generator().manual_seed(1)
    data = torch.rand(4, 3, 32, 32, generator=g), torch.tensor([0, 1, 2, 3])
    result = compare({"tv": model}, data, progress=False, n=3, methods=["gradient", "guided-backprop"],
                     metrics=["gini", "alignment"], random_baseline=False, n_figure=2)
    assert result.settings["guided_backprop"]["tv"].startswith("ran on a copy with 9 ReLU modules replaced")
    assert list(model.modules()) == modules and all(m.inplace for m in modules if isinstance(m, torch.nn.ReLU))
    assert {"gini (guided-backprop)", "alignment (guided-backprop)"} <= set(result.table["measurement"])


def test_batch_size_bounds_every_pass_and_keeps_the_deterministic_scores(two_models, data):
    """No forward pass of any method or metric holds more than batch_size images (integrated gradients' steps,
    smoothgrad's samples, the perturbations and curves included), and gradient maps score the same in chunks of
    2 images as in one chunk of 64: only the drawn randomness depends on the chunks."""
    rows: list[int] = []
    hooks = [m.register_forward_pre_hook(lambda _, args: rows.append(len(args[0]))) for m in two_models.values()]
    methods = ["gradient", "input-x-gradient", "integrated-gradients", "smoothgrad"]
    try:
        small = score_maps(two_models, data, methods=methods, batch_size=2, **TINY)
        assert 0 < max(rows) <= 2
        rows.clear()
        large = score_maps(two_models, data, methods=methods, batch_size=64, **TINY)
        assert max(rows) > 2
    finally:
        for h in hooks:
            h.remove()
    assert small.settings["batch_size"] == 2 and large.settings["batch_size"] == 64
    pe = small.per_example
    assert sorted(pe[pe["metric"] == "sensitivity"]["image"].unique()) == [0, 1, 2]  # across a chunk's edge
    deterministic = ["alignment", "cosine", "gini", "deletion", "insertion"]
    pick = lambda c: c.per_example[c.per_example["method"].isin(methods[:3])  # noqa: E731
                                   & c.per_example["metric"].isin(deterministic)]
    a, b = pick(small), pick(large)
    assert len(a) == 2 * 3 * len(deterministic) * 6
    assert a[["model", "method", "metric", "image"]].values.tolist() == b[["model", "method", "metric",
                                                                         "image"]].values.tolist()
    torch.testing.assert_close(torch.tensor(a["value"].to_numpy()), torch.tensor(b["value"].to_numpy()),
                               rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(small.images, large.images)
    for key in [(m, method) for m in two_models for method in methods[:3]]:  # the figure maps, gathered in order
        torch.testing.assert_close(small.maps[key], large.maps[key], rtol=1e-5, atol=1e-6)
