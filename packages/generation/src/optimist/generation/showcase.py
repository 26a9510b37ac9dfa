"""The side-by-side experiment: every task run from the same seeds on several generator models, then judged.

:func:`run_showcase` is what the demo calls; it takes models and data (no zoo, no report), so tests and
notebooks can run it on any pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from optimist.core.errors import InputError
from optimist.generation.budgets import DEFAULTS, Budget
from optimist.generation.evaluate import Evaluator, RealReference, judge
from optimist.generation.result import TaskResult
from optimist.generation.seeds import ClassGaussian, class_labels
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

TASKS = tuple(DEFAULTS)
# Translation target for each Fashion-MNIST source class (a visually neighbouring class).
FMNIST_TRANSLATION = {0: 3, 1: 3, 2: 4, 3: 0, 4: 2, 5: 7, 6: 4, 7: 9, 8: 2, 9: 7}


@dataclass
class ShowcaseConfig:
    """Sizes and budgets of one showcase run (defaults: the demo's, about 30 s of CPU for three models)."""

    per_class: int = 8  # class generation: seeds per class
    classes: int | None = None  # class generation: how many classes get seeds, drawn with the seed (None: all)
    n_inputs: int = 40  # inpainting, super-resolution, translation, inversion: test images (balanced)
    n_units: int = 8  # feature visualisation: seeds (each maximising another top unit)
    seed_resolution: int = 4  # class Gaussians fitted at 4x4 and upsampled: Santurkar's 224 -> 32 ratio
    sr_factor: int = 4  # super-resolution from 7x7
    mask_size: int = 10
    lam: float = 10.0
    # Generation and translation stop changing an image once the generator gives the target this probability
    # (None: never). Inpainting and super-resolution keep Santurkar's protocol: their images already show
    # their class, and the point is to keep adding class detail.
    confidence: float | None = 0.9
    translation: dict[int, int] = field(default_factory=lambda: dict(FMNIST_TRANSLATION))
    budgets: dict[str, Budget] = field(default_factory=lambda: dict(DEFAULTS))
    tasks: tuple[str, ...] = TASKS
    reference_split: int = 5000  # test images [0, split) feed the tasks, later ones are the real reference
    reference_size: int = 3000  # real reference images (from reference_split on)
    seed: int = 0

    def __post_init__(self):
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown:
            raise InputError(f"unknown task(s) {unknown}; choose from {', '.join(TASKS)}")
        if self.per_class < 2 or self.n_inputs < 2 or self.n_units < 1:
            raise InputError("per_class and n_inputs must be >= 2 (diversity and Fréchet need pairs), n_units >= 1")
        if self.classes is not None and self.classes < 1:
            raise InputError(f"classes must be >= 1 (or None: every class), got {self.classes}")

    def scaled_steps(self, factor: float) -> "ShowcaseConfig":
        """The same run with every task's step count multiplied by ``factor`` (and step size divided by it)."""
        budgets = {k: b.with_(steps=max(1, round(b.steps * factor)), step_size=b.step_size / min(factor, 1.0))
                   for k, b in self.budgets.items()}
        return replace(self, budgets=budgets)


@dataclass
class ShowcaseResult:
    results: dict[str, dict[str, TaskResult]]  # task -> model name -> result
    table: pd.DataFrame
    config: ShowcaseConfig


def balanced_inputs(images: torch.Tensor, labels: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """Indices of ``n`` images, classes interleaved (0, 1, ..., 9, 0, 1, ...) so any prefix is balanced."""
    g = torch.Generator().manual_seed(seed)
    classes = labels.unique().tolist()
    per = -(-n // len(classes))
    picks = []
    for k in classes:
        idx = (labels == k).nonzero().flatten()
        picks.append(idx[torch.randperm(len(idx), generator=g)[:per]])
    order = [p[i] for i in range(per) for p in picks if i < len(p)]
    return torch.stack(order)[:n]


def real_reference(evaluator: nn.Module, test, config: ShowcaseConfig) -> RealReference:
    """The real test images (after ``config.reference_split``) that every Fréchet distance compares with."""
    split = config.reference_split
    if not 0 < split < len(test.targets):
        raise InputError(f"reference_split must lie inside the test set (1..{len(test.targets) - 1}), got {split}")
    end = split + config.reference_size
    return RealReference(Evaluator(evaluator), test.images[split:end], test.targets[split:end])


def run_showcase(generators: dict[str, nn.Module], evaluator: nn.Module, train, test,
                 *, config: ShowcaseConfig | None = None, progress: bool = True,
                 reference: RealReference | None = None) -> ShowcaseResult:
    """Run every task of ``config`` on each generator from identical seeds and judge with ``evaluator``.

    Args:
        generators: {display name: classifier}; each must be independent of ``evaluator``.
        train, test: datasets with ``.images``/``.targets`` (seeds are fitted on train; tasks use test images
            below ``config.reference_split``, the real reference comes after).
        reference: a :func:`real_reference` built before (reuse it across runs: it costs an evaluator pass).

    Examples
    --------
    >>> # skipped when run as a doctest: every task on every generator, judged (about 30 s); model, evaluator
    >>> # (an independent classifier) and the Fashion-MNIST train/test datasets are given
    >>> showcase = run_showcase({"net": model}, evaluator, train, test, progress=False)  # doctest: +SKIP
    """
    config = config or ShowcaseConfig()
    if not generators:
        raise InputError("generators is empty: pass {name: model}")
    referee = Evaluator(evaluator)
    for m in generators.values():
        referee.check_independent(m)
    if reference is None:
        reference = real_reference(evaluator, test, config)
    elif reference.evaluator.model is not evaluator:
        raise InputError("the reference was built with another evaluator")
    split = config.reference_split
    pool_x, pool_y = test.images[:split], test.targets[:split]
    idx = balanced_inputs(pool_x, pool_y, config.n_inputs, config.seed)
    x, y = pool_x[idx], pool_y[idx]
    g = lambda k: torch.Generator().manual_seed(config.seed * 1000 + k)  # noqa: E731
    b = config.budgets

    jobs = {}
    if "class-generation" in config.tasks:
        sampler = ClassGaussian.fit(train.images, train.targets, resolution=config.seed_resolution)
        classes = list(sampler.classes)
        if config.classes is not None and config.classes < len(classes):  # a seeded draw, in class order
            keep = torch.randperm(len(classes), generator=g(4))[:config.classes].sort().values
            classes = [classes[i] for i in keep.tolist()]
        gen_y = class_labels(classes, config.per_class).view(len(classes), -1).T.flatten()  # interleaved
        gen_seeds = sampler.sample(gen_y, g(1))
        jobs["class-generation"] = lambda m: generate(m, gen_seeds, gen_y, budget=b["class-generation"],
                                                      confidence=config.confidence)
    if "inpainting" in config.tasks:
        mask = square_mask(len(x), image_size=x.shape[-1], size=config.mask_size, generator=g(2))
        jobs["inpainting"] = lambda m: inpaint(m, x, y, mask, lam=config.lam, budget=b["inpainting"])
    if "super-resolution" in config.tasks:
        low = downsample(x, config.sr_factor)
        jobs["super-resolution"] = lambda m: super_resolve(m, low, y, size=x.shape[-1], budget=b["super-resolution"],
                                                           ground_truth=x)
    if "translation" in config.tasks:
        target = torch.tensor([config.translation.get(int(k), int(k)) for k in y])
        keep = target != y
        jobs["translation"] = lambda m: translate(m, x[keep], target[keep], budget=b["translation"],
                                                  source_classes=y[keep],
                                                  confidence=config.confidence)
    if "sketch-to-image" in config.tasks:
        sketches = edge_map(x)
        jobs["sketch-to-image"] = lambda m: sketch_to_image(m, sketches, y, budget=b["sketch-to-image"], ground_truth=x,
                                                            confidence=config.confidence)
    if "inversion" in config.tasks:
        inv_seeds = noise_seeds(len(x), shape=tuple(x.shape[1:]), generator=g(3))
        jobs["inversion"] = lambda m: invert(m, x, seeds=inv_seeds, budget=b["inversion"], labels=y)
    if "feature-visualisation" in config.tasks:
        vis_seeds = x[:config.n_units]

        def vis(m):
            units = top_units(m, reference.images[:1000], k=config.n_units)
            return visualise(m, vis_seeds, units, budget=b["feature-visualisation"])

        jobs["feature-visualisation"] = vis

    results: dict[str, dict[str, TaskResult]] = {}
    bar = tqdm(total=len(jobs) * len(generators), desc="generation", disable=not progress)
    for task in config.tasks:
        if task not in jobs:
            continue
        results[task] = {}
        for name, m in generators.items():
            bar.set_postfix_str(f"{task} / {name}")
            results[task][name] = jobs[task](m)
            bar.update()
    bar.close()
    tables = [judge(r, reference, seed=config.seed) for r in results.values()]
    return ShowcaseResult(results, pd.concat(tables, ignore_index=True), config)
