"""Compare saliency across models: every (model, method) pair scored on the same images by every metric.

``score_maps({"standard": m0, "robust L∞ 0.1": m1}, test_data)`` explains each model's own prediction
(or the true label) with each method plus a random-attribution baseline, scores every map, and returns a
:class:`Comparison` holding per-image scores, a summary table (mean and 95% interval over images),
paired model-versus-reference differences and the maps of a few images for figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from optimist.core.errors import InputError
from optimist.core.settings import Settings, setting
from optimist.core.stats import proportion_interval
from optimist.interpretability.attributions import (
    METHODS,
    RANDOM,
    attribute,
    check_method,
    explanation_function,
    guided_backprop_model,
    predicted_class,
    random_attribution,
)
from optimist.interpretability.figures import metric_vs_epsilon, saliency_grid
from optimist.interpretability.metrics import (
    METRICS,
    alignment,
    cosine_alignment,
    deletion_auc,
    gini,
    insertion_auc,
    max_sensitivity,
    output_change,
    relative_infidelity,
)
from optimist.interpretability.stats import paired_differences, summarise

DEFAULT_METHODS: tuple[str, ...] = tuple(METHODS)


@dataclass
class Comparison:
    """Everything :func:`score_maps` measured."""

    per_example: pd.DataFrame          # model, method, metric, image, value
    table: pd.DataFrame                # model, method, metric, mean, ci_low, ci_high, n
    images: torch.Tensor               # the images shown in figures
    labels: torch.Tensor | None
    maps: dict[tuple[str, str], torch.Tensor]  # (model, method) -> attributions of ``images``
    predictions: dict[str, torch.Tensor]       # model -> predicted class of ``images``
    accuracy: dict[str, float]                 # model -> accuracy on the compared images (when labels exist)
    class_names: Sequence[str] | None = None
    settings: dict = field(default_factory=dict)
    accuracy_interval: dict[str, tuple[float, float, int]] = field(default_factory=dict)  # model -> (low, high, n)

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(self.table["model"]))

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(self.table["method"]))

    def means(self) -> pd.DataFrame:
        """Wide numeric table: one row per (model, method), one column per metric (means)."""
        wide = self.table.pivot_table(index=["model", "method"], columns="metric", values="mean", sort=False)
        return wide[[m for m in METRICS if m in wide.columns]]

    def summary(self, digits: int = 3) -> pd.DataFrame:
        """Wide text table, each cell "mean ± half-width of the 95% interval"."""
        t = self.table.copy()
        t["cell"] = [f"{m:.{digits}f} ± {(hi - lo) / 2:.{digits}f}" if pd.notna(hi) else f"{m:.{digits}f}"
                     for m, lo, hi in zip(t["mean"], t["ci_low"], t["ci_high"])]
        wide = t.pivot(index=["model", "method"], columns="metric", values="cell")
        order = pd.MultiIndex.from_tuples(list(dict.fromkeys(zip(t["model"], t["method"]))), names=["model", "method"])
        return wide.reindex(order)[[m for m in METRICS if m in wide.columns]]

    def differences(self, reference: str | None = None) -> pd.DataFrame:
        """Paired per-image differences of every model from ``reference`` (default: the first model)."""
        return paired_differences(self.per_example, reference or self.models[0])

    def grid_figure(self, methods: Sequence[str] | None = None, models: Sequence[str] | None = None,
                    images_as_columns: bool = False):
        """Images × (model, method) heatmaps (see :func:`optimist.interpretability.figures.saliency_grid`)."""
        return saliency_grid(self, methods=methods, models=models, images_as_columns=images_as_columns)

    def epsilon_figure(self, epsilons: Mapping[str, tuple[str | None, float]], metrics: Sequence[str] | None = None,
                       methods: Sequence[str] | None = None):
        """Metric versus training epsilon (see :func:`optimist.interpretability.figures.metric_vs_epsilon`)."""
        return metric_vs_epsilon(self, epsilons, metrics=metrics, methods=methods)


def _as_tensors(data) -> tuple[torch.Tensor, torch.Tensor | None, Sequence[str] | None]:
    if hasattr(data, "images") and hasattr(data, "targets"):
        info = getattr(data, "info", None)
        return data.images, data.targets, getattr(info, "class_names", None)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return data[0], torch.as_tensor(data[1]), None
    if isinstance(data, torch.Tensor):
        return data, None, None
    raise InputError("data must be an ImageTensorDataset, an (images, labels) pair or an image tensor, "
                     f"got {type(data).__name__}")


def _figure_indices(labels: torch.Tensor | None, n: int, k: int) -> torch.Tensor:
    """Up to ``k`` indices among the first ``n``: one image per class first, in class order, then the rest."""
    if labels is None:
        return torch.arange(min(k, n))
    labels = labels[:n]
    firsts = [int((labels == c).nonzero()[0]) for c in labels.unique().tolist()]
    rest = [i for i in range(n) if i not in firsts]
    return torch.tensor((firsts + rest)[:k], dtype=torch.long)


@dataclass(frozen=True)
class ScoreSettings(Settings):
    """How :func:`score_maps` scores maps; pass one as ``settings=`` or give any field as a keyword."""

    methods: tuple[str, ...] = setting(DEFAULT_METHODS, "captum methods to explain with")
    metrics: tuple[str, ...] = setting(tuple(METRICS), "metrics to score every map with")
    n: int = setting(128, "images scored (the first n of the data)")
    target: str = setting("predicted", "class explained: predicted or label")
    random_baseline: bool = setting(True, "also score random maps, for scale")
    steps: int = setting(20, "deletion/insertion curve steps")
    deletion_baseline: Any = setting("black", "what deleted pixels become")
    insertion_baseline: Any = setting("blur", "what insertion starts from")
    order: str = setting("abs", "pixel ranking: abs, positive or negative attribution")
    infidelity_sigma: float = setting(0.1, "noise of the infidelity perturbations")
    infidelity_samples: int = setting(8, "perturbations per image for infidelity")
    sensitivity_n: int = setting(16, "images for max-sensitivity")
    sensitivity_samples: int = setting(4, "perturbations per image for max-sensitivity")
    sensitivity_radius: float = setting(0.02, "radius of the max-sensitivity perturbations")
    n_figure: int = setting(6, "images drawn in the figures")
    batch_size: int = setting(256, "images per batch")


def score_maps(
    models: Mapping[str, nn.Module],
    data,
    *,
    settings: ScoreSettings | None = None,
    method_options: Mapping[str, dict] | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    **options: Any,
) -> Comparison:
    """Score every (model, method) on the first ``n`` images of ``data`` with every metric.

    ``models`` maps a display name to a classifier taking [0, 1] images. Each model explains its own
    predicted class (``target="predicted"``) or the true label (``target="label"``). A "random" method
    (Gaussian noise maps) is added unless ``random_baseline=False``, so every metric shows what a map
    without signal scores. Deletion/insertion use ``steps`` steps; infidelity ``infidelity_samples``
    Gaussian perturbations of std ``infidelity_sigma``; sensitivity the first ``sensitivity_n`` images
    and ``sensitivity_samples`` perturbations in an L∞ ball of ``sensitivity_radius``.
    ``method_options`` passes captum options per method, e.g. ``{"integrated-gradients": {"n_steps": 64}}``.
    Images go to ``device`` (default: where the first model's parameters are).

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> images = (torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3]))
    >>> comparison = score_maps({"net": model}, images, n=4, methods=["gradient"], steps=3, progress=False)
    >>> comparison.table.columns.tolist()
    ['model', 'method', 'metric', 'mean', 'ci_low', 'ci_high', 'n']
    """
    s = ScoreSettings.merged(settings, options)
    methods, metrics, n, target, random_baseline = s.methods, s.metrics, s.n, s.target, s.random_baseline
    steps, deletion_baseline, insertion_baseline, order = s.steps, s.deletion_baseline, s.insertion_baseline, s.order
    infidelity_sigma, infidelity_samples, sensitivity_n = s.infidelity_sigma, s.infidelity_samples, s.sensitivity_n
    sensitivity_samples, sensitivity_radius, n_figure = s.sensitivity_samples, s.sensitivity_radius, s.n_figure
    batch_size = s.batch_size
    if not models:
        raise InputError("models is empty; pass e.g. {'standard': model_a, 'robust': model_b}")
    methods = [check_method(m) for m in methods]
    bad = [m for m in metrics if m not in METRICS]
    if bad:
        raise InputError(f"unknown metric(s) {bad}; choose from {', '.join(METRICS)}")
    if target not in ("predicted", "label"):
        raise InputError(f"target must be 'predicted' or 'label', got {target!r}")
    x_all, y_all, class_names = _as_tensors(data)
    if device is None:
        device = next(iter(next(iter(models.values())).parameters()), torch.empty(0)).device
    x = x_all[:n].float().to(device)
    y = None if y_all is None else y_all[:n].long().to(device)
    if target == "label" and y is None:
        raise InputError("target='label' needs labels: pass a dataset or an (images, labels) pair")
    method_options = dict(method_options or {})
    all_methods = methods + ([RANDOM] if random_baseline else [])
    fig_idx = _figure_indices(None if y is None else y.cpu(), len(x), n_figure).to(x.device)
    k_sens = min(sensitivity_n, len(x))
    # guided backprop's ReLU check (and copy, for in-place or shared ReLUs) comes before any work, for every model
    guided = {name: guided_backprop_model(model, x) for name, model in models.items()} \
        if "guided-backprop" in methods else {}

    rows: list[pd.DataFrame] = []
    maps: dict[tuple[str, str], torch.Tensor] = {}
    predictions: dict[str, torch.Tensor] = {}
    accuracy: dict[str, float] = {}
    accuracy_interval: dict[str, tuple[float, float, int]] = {}
    bar = tqdm(total=len(models) * len(all_methods), desc="saliency metrics", disable=not progress)
    for name, model in models.items():
        pred = predicted_class(model, x)
        predictions[name] = pred[fig_idx]
        if y is not None:
            correct = (pred == y).double().cpu().numpy()
            accuracy[name] = float(correct.mean())
            _, lo, hi = proportion_interval(correct)
            accuracy_interval[name] = (lo, hi, len(correct))
        t = pred if target == "predicted" else y
        change = None
        if "infidelity" in metrics:
            change = output_change(model, x, t, infidelity_sigma, infidelity_samples, seed)
        for method in all_methods:
            bar.set_postfix_str(f"{name} / {method}")
            options = method_options.get(method, {})
            explained = guided[name][0] if method == "guided-backprop" else model
            a = (random_attribution(x, seed) if method == RANDOM
                 else attribute(explained, x, t, method=method, batch_size=batch_size, **options))
            maps[(name, method)] = a[fig_idx]
            scores: dict[str, torch.Tensor] = {}
            if "alignment" in metrics:
                scores["alignment"] = alignment(x, a)
            if "cosine" in metrics:
                scores["cosine"] = cosine_alignment(x, a)
            if "deletion" in metrics:
                scores["deletion"] = deletion_auc(model, x, a, t, steps=steps, baseline=deletion_baseline,
                                                  order=order, batch_size=batch_size * 4, seed=seed)
            if "insertion" in metrics:
                scores["insertion"] = insertion_auc(model, x, a, t, steps=steps, baseline=insertion_baseline,
                                                    order=order, batch_size=batch_size * 4, seed=seed)
            if "infidelity" in metrics:
                scores["infidelity"] = relative_infidelity(model, x, a, t, sigma=infidelity_sigma,
                                                           n_perturb_samples=infidelity_samples, seed=seed,
                                                           change=change)
            if "sensitivity" in metrics and k_sens > 0:
                explain = explanation_function(explained, method, **options)
                scores["sensitivity"] = max_sensitivity(explain, x[:k_sens], t[:k_sens], radius=sensitivity_radius,
                                                        n_perturb_samples=sensitivity_samples)
            if "gini" in metrics:
                scores["gini"] = gini(a)
            for metric, v in scores.items():
                v = v.detach().cpu().double()
                rows.append(pd.DataFrame({"model": name, "method": method, "metric": metric,
                                          "image": range(len(v)), "value": v.numpy()}))
            bar.update()
    bar.close()
    per_example = pd.concat(rows, ignore_index=True)
    table = summarise(per_example)
    settings = {"n": len(x), "target": target, "methods": methods, "random_baseline": random_baseline,
                "metrics": list(metrics), "steps": steps, "deletion_baseline": str(deletion_baseline),
                "insertion_baseline": str(insertion_baseline), "order": order,
                "infidelity_sigma": infidelity_sigma, "infidelity_samples": infidelity_samples,
                "sensitivity_n": k_sens, "sensitivity_samples": sensitivity_samples,
                "sensitivity_radius": sensitivity_radius, "method_options": method_options, "seed": seed}
    if guided:
        settings["guided_backprop"] = {name: note for name, (_, note) in guided.items()}
    maps = {k: v.cpu() for k, v in maps.items()}
    predictions = {k: v.cpu() for k, v in predictions.items()}
    return Comparison(per_example, table, x[fig_idx].cpu(), None if y is None else y[fig_idx].cpu(), maps,
                      predictions, accuracy, class_names, settings, accuracy_interval)
