"""Compare saliency across models: every (model, method) pair scored on the same images by every metric.

``score_maps({"standard": m0, "robust L∞ 0.1": m1}, test_data)`` explains each model's own prediction
(or the true label) with each method plus a random-attribution baseline, scores every map, and returns a
:class:`Comparison` holding per-image scores, a summary table (mean and 95% interval over images),
paired model-versus-reference differences and the maps of a few images for figures. The images are scored
in chunks (``batch_size`` images, each chunk with its own seeded randomness) through a ``mapper``: core's
``run.map`` in the application, which shares the chunks out over torchrun's processes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from optimist.core.application import Chunk
from optimist.core.application.batching import auto_batch_size
from optimist.core.application.shards import map_chunks
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
    batch_size: int | None = setting(None, "images per chunk and per forward/backward pass of every method and "
                                     "metric (default: chosen from the models and the image size to bound "
                                     "memory)", minimum=1)


#: ``mapper(fn, *tensors, desc=...)`` runs ``fn(chunk, *slices)`` on fixed chunks of the images and combines the
#: outputs in order: core's ``run.map`` (shared out over torchrun's processes), by default a loop here.
Mapper = Callable[..., Any]


@dataclass(frozen=True)
class _Work:
    """What every chunk of :func:`score_maps` needs."""

    models: Mapping[str, nn.Module]
    guided: Mapping[str, nn.Module]  # model name -> the model guided backprop runs on (itself or a copy)
    methods: tuple[str, ...]         # the captum methods, then "random" when the baseline is on
    settings: ScoreSettings
    method_options: Mapping[str, dict]
    batch_size: int
    sensitivity_n: int               # max-sensitivity is measured on images [0, sensitivity_n) only
    figure: tuple[int, ...]          # the indices of the images shown in figures
    labelled: bool
    device: torch.device


def _score_chunk(chunk: Chunk, x: torch.Tensor, y: torch.Tensor, *, work: _Work) -> dict:
    """Maps and scores of images ``chunk.start:chunk.stop`` for every (model, method): per-image rows (``image`` is
    the index among all images), every model's predicted classes, and the maps of the figure images the chunk
    holds. Its randomness (random maps, infidelity perturbations, pixel-ranking ties; captum's smoothgrad noise and
    max-sensitivity perturbations from the global generators, reseeded per chunk) comes from the chunk only, so
    its rows do not depend on which process runs it or on the other chunks."""
    s, batch, seed = work.settings, work.batch_size, chunk.seed
    x = x.float().to(work.device)
    y = y.long().to(work.device) if work.labelled else None
    images = list(range(chunk.start, chunk.stop))
    shown = [i for i in work.figure if chunk.start <= i < chunk.stop]
    local = torch.tensor([i - chunk.start for i in shown], dtype=torch.long, device=x.device)
    k_sens = max(0, min(chunk.stop, work.sensitivity_n) - chunk.start)
    rows: list[pd.DataFrame] = []
    maps: dict[tuple[str, str], torch.Tensor] = {}
    predictions: dict[str, torch.Tensor] = {}
    for name, model in work.models.items():
        pred = predicted_class(model, x, batch)
        predictions[name] = pred
        t = pred if s.target == "predicted" else y
        change = None
        if "infidelity" in s.metrics:
            change = output_change(model, x, t, s.infidelity_sigma, s.infidelity_samples, seed, batch)
        for method in work.methods:
            options = work.method_options.get(method, {})
            explained = work.guided[name] if method == "guided-backprop" else model
            a = (random_attribution(x, seed) if method == RANDOM
                 else attribute(explained, x, t, method=method, batch_size=batch, **options))
            maps[(name, method)] = a[local]
            scores: dict[str, torch.Tensor] = {}
            if "alignment" in s.metrics:
                scores["alignment"] = alignment(x, a)
            if "cosine" in s.metrics:
                scores["cosine"] = cosine_alignment(x, a)
            if "deletion" in s.metrics:
                scores["deletion"] = deletion_auc(model, x, a, t, steps=s.steps, baseline=s.deletion_baseline,
                                                  order=s.order, batch_size=batch, seed=seed)
            if "insertion" in s.metrics:
                scores["insertion"] = insertion_auc(model, x, a, t, steps=s.steps, baseline=s.insertion_baseline,
                                                    order=s.order, batch_size=batch, seed=seed)
            if "infidelity" in s.metrics:
                scores["infidelity"] = relative_infidelity(model, x, a, t, sigma=s.infidelity_sigma,
                                                           n_perturb_samples=s.infidelity_samples, seed=seed,
                                                           max_examples_per_batch=batch, change=change)
            if "sensitivity" in s.metrics and k_sens > 0:
                explain = explanation_function(explained, method, batch_size=batch, **options)
                scores["sensitivity"] = max_sensitivity(explain, x[:k_sens], t[:k_sens], radius=s.sensitivity_radius,
                                                        n_perturb_samples=s.sensitivity_samples,
                                                        max_examples_per_batch=batch)
            if "gini" in s.metrics:
                scores["gini"] = gini(a)
            for metric, v in scores.items():
                rows.append(pd.DataFrame({"model": name, "method": method, "metric": metric,
                                          "image": images[: len(v)], "value": v.detach().cpu().double().numpy()}))
    return {"rows": pd.concat(rows, ignore_index=True), "predictions": predictions, "maps": maps,
            "shown": torch.tensor(shown, dtype=torch.long)}


def _map_here(fn: Callable[..., Any], *tensors: torch.Tensor, batch_size: int, seed: int, progress: bool,
              desc: str = "images") -> Any:
    """The default :data:`Mapper`: core's chunked loop (chunks of ``batch_size``, each seeded from ``seed``)."""
    return map_chunks(fn, tensors, batch_size=batch_size, seed=seed, progress=progress, desc=desc)


def _grouped(rows: pd.DataFrame) -> pd.DataFrame:
    """The chunks' rows with each (model, method, metric) together, in first-seen order, images ascending."""
    return pd.concat([g for _, g in rows.groupby(["model", "method", "metric"], sort=False)], ignore_index=True)


def score_maps(
    models: Mapping[str, nn.Module],
    data,
    *,
    settings: ScoreSettings | None = None,
    method_options: Mapping[str, dict] | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    mapper: Mapper | None = None,
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

    Memory is bounded by ``batch_size`` (default: chosen from the models and the image size, as core's runner
    does): the images are scored in chunks of ``batch_size``, and no forward or backward pass of any method or
    metric (integrated gradients' steps, smoothgrad's samples, the infidelity and max-sensitivity perturbations,
    the deletion/insertion curves) holds more than ``batch_size`` images. Each chunk draws its randomness from
    its own generators, seeded from ``seed`` and the chunk's index, so the scores depend on ``seed`` and
    ``batch_size`` but not on how the chunks are run: ``mapper`` runs them (core's ``run.map``, which shares them
    out over torchrun's processes; by default a loop here). Guided backprop's model is chosen for every model
    before any work (:func:`~optimist.interpretability.attributions.guided_backprop_model`).

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
    if not models:
        raise InputError("models is empty; pass e.g. {'standard': model_a, 'robust': model_b}")
    methods = [check_method(m) for m in s.methods]
    bad = [m for m in s.metrics if m not in METRICS]
    if bad:
        raise InputError(f"unknown metric(s) {bad}; choose from {', '.join(METRICS)}")
    if s.target not in ("predicted", "label"):
        raise InputError(f"target must be 'predicted' or 'label', got {s.target!r}")
    x_all, y_all, class_names = _as_tensors(data)
    if device is None:
        device = next(iter(next(iter(models.values())).parameters()), torch.empty(0)).device
    device = torch.device(device)
    x = x_all[: s.n].float()
    y = None if y_all is None else y_all[: s.n].long()
    if s.target == "label" and y is None:
        raise InputError("target='label' needs labels: pass a dataset or an (images, labels) pair")
    if len(x) == 0:
        raise InputError("data holds no images to score")
    method_options = dict(method_options or {})
    fig_idx = _figure_indices(y, len(x), s.n_figure)
    k_sens = min(s.sensitivity_n, len(x))
    # guided backprop's ReLU check (and copy, for in-place or shared ReLUs) comes before any work, for every model
    guided = {name: guided_backprop_model(model, x[:1].to(device)) for name, model in models.items()} \
        if "guided-backprop" in methods else {}
    batch = s.batch_size or auto_batch_size(models.values(), tuple(x.shape[1:]))
    work = _Work(models=dict(models), guided={name: m for name, (m, _) in guided.items()},
                 methods=tuple(methods + ([RANDOM] if s.random_baseline else [])), settings=s,
                 method_options=method_options, batch_size=batch, sensitivity_n=k_sens,
                 figure=tuple(fig_idx.tolist()), labelled=y is not None, device=device)
    mapper = mapper or functools.partial(_map_here, batch_size=batch, seed=seed, progress=progress)
    out = mapper(functools.partial(_score_chunk, work=work), x, torch.full((len(x),), -1) if y is None else y,
                 desc="saliency maps")

    per_example = _grouped(out["rows"])
    predicted: dict[str, torch.Tensor] = out["predictions"]
    accuracy: dict[str, float] = {}
    accuracy_interval: dict[str, tuple[float, float, int]] = {}
    if y is not None:
        for name, pred in predicted.items():
            correct = (pred == y).double().numpy()
            accuracy[name] = float(correct.mean())
            _, lo, hi = proportion_interval(correct)
            accuracy_interval[name] = (lo, hi, len(correct))
    position = {i: k for k, i in enumerate(out["shown"].tolist())}  # figure image -> its row among the maps
    pick = torch.tensor([position[i] for i in work.figure], dtype=torch.long)
    summary = {"n": len(x), "target": s.target, "methods": methods, "random_baseline": s.random_baseline,
               "metrics": list(s.metrics), "steps": s.steps, "deletion_baseline": str(s.deletion_baseline),
               "insertion_baseline": str(s.insertion_baseline), "order": s.order,
               "infidelity_sigma": s.infidelity_sigma, "infidelity_samples": s.infidelity_samples,
               "sensitivity_n": k_sens, "sensitivity_samples": s.sensitivity_samples,
               "sensitivity_radius": s.sensitivity_radius, "method_options": method_options, "seed": seed,
               "batch_size": batch}
    if guided:
        summary["guided_backprop"] = {name: note for name, (_, note) in guided.items()}
    return Comparison(per_example, summarise(per_example), x[fig_idx], None if y is None else y[fig_idx],
                      {k: v[pick] for k, v in out["maps"].items()},
                      {k: v[fig_idx] for k, v in predicted.items()}, accuracy, class_names, summary,
                      accuracy_interval)
