"""``optimist demo diffusion``: robust versus standard classifier guidance of a Fashion-MNIST DDPM.

Opt-in (it may train a DDPM for ~15 minutes on 2 CPU cores). Uses the cached DDPM when present and trains
one otherwise. Settings can be changed through ``options.extra`` (see :class:`DiffusionDemoSettings`), e.g.
for a GPU: ``{"unet": "gpu", "ddpm_steps": 40000, "ddpm_batch": 128, "ddpm_lr": 2e-4, "ema": 0.9995}``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields

import pandas as pd
import torch
from diffusers import DDIMScheduler

from optimist.core import zoo
from optimist.core.data import load_dataset, subset
from optimist.core.demo import DemoOptions
from optimist.core.report import Section
from optimist.generation.diffusion.cache import get_ddpm, get_noise_classifier, load_ddpm
from optimist.generation.diffusion.compare import (
    UNGUIDED,
    GuidanceKind,
    best_scales,
    class_labels,
    margins,
    plot_grids,
    plot_sweep,
    sweep,
)
from optimist.generation.diffusion.guidance import CleanGuidance, NoiseAwareGuidance
from optimist.generation.diffusion.noise_classifier import NoiseClassifierConfig, noised_accuracy
from optimist.generation.diffusion.refine import BigrocRefiner
from optimist.generation.diffusion.train_ddpm import CPU_TRAINING, DDPMTrainConfig, make_scheduler
from optimist.generation.evaluate import Evaluator, RealReference, train_evaluator

STANDARD, ROBUST = "fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/linf-0.1"
EVALUATOR = "fashion-mnist/lenet/evaluator"


@dataclass
class DiffusionDemoSettings:
    """Everything the demo does; ``from_options`` reads overrides from ``options.extra``."""

    unet: str = "mini"
    ddpm_steps: int = CPU_TRAINING.steps
    ddpm_batch: int = CPU_TRAINING.batch_size
    ddpm_lr: float = CPU_TRAINING.lr
    ema: float = CPU_TRAINING.ema_decay
    ddpm_dir: str | None = None  # a saved pipeline folder to use instead of the zoo's
    noise_steps: int = 1500
    adv_steps: int = 600
    adv_eps: float = 0.5  # Kawar et al.: L2 0.5 on x_t in [-1, 1]
    attack_steps: int = 3
    noise_width: int = 16
    noise_root: str | None = None
    standard: str = STANDARD
    robust: str = ROBUST
    evaluator: str = EVALUATOR
    refine_eps: float = 1.5
    refine_steps: int = 5
    through_unet: bool = False  # x0-hat guidance: treat eps_theta as constant (3x cheaper on a CPU)
    x0_weighting: str = "x0"  # "x0": move x0_hat by s * grad (late steps); "xt": plain guidance on x_t
    scales: list[float] = field(default_factory=lambda: [1.0, 3.0, 10.0])  # noise-aware guidance
    # x0-hat guidance moves x0_hat by s * grad log p per step (x0 weighting); standard and robust share every
    # scale. With x0_weighting="xt" use scales around 0.01-0.1 (its weight reaches ~160 at t = 999).
    x0_scales: list[float] = field(default_factory=lambda: [1.0, 3.0, 10.0, 30.0])
    reference_size: int = 3000  # real test images whose evaluator features are the Fréchet reference
    classes: list[int] = field(default_factory=lambda: list(range(10)))
    per_class: int = 6
    sampling_steps: int = 25
    grid_scale: float | None = None  # default: the middle scale
    kinds: list[str] = field(default_factory=lambda: ["x0", "noise-aware"])

    @classmethod
    def quick(cls) -> "DiffusionDemoSettings":
        return cls(unet="tiny", ddpm_steps=20, ddpm_batch=16, noise_steps=4, adv_steps=2, attack_steps=1,
                   noise_width=8, refine_steps=1, scales=[1.0], x0_scales=[0.1], classes=[0, 1, 2, 3], per_class=2,
                   sampling_steps=2, reference_size=400)

    @classmethod
    def from_options(cls, options: DemoOptions) -> "DiffusionDemoSettings":
        base = cls.quick() if options.quick else cls()
        names = {f.name for f in fields(cls)}
        nested = options.extra.get("diffusion")  # {"diffusion": {...}} or top-level keys; others are ignored
        extra = dict(nested) if isinstance(nested, dict) else {}
        extra.update({k: v for k, v in options.extra.items() if k in names})
        bad = set(extra) - names
        if bad:
            raise ValueError(f"unknown diffusion demo settings {sorted(bad)}; known: {sorted(names)}")
        return cls(**{**asdict(base), **extra})


def _ddpm(settings: DiffusionDemoSettings, options: DemoOptions, train_images):
    if settings.ddpm_dir:
        return load_ddpm(settings.ddpm_dir), {"path": settings.ddpm_dir, "cached": True}
    training = DDPMTrainConfig(steps=settings.ddpm_steps, batch_size=settings.ddpm_batch, lr=settings.ddpm_lr,
                               ema_decay=settings.ema, seed=options.seed)
    root = options.zoo_root if options.quick else None
    return get_ddpm(settings.unet, training, root=root, images=train_images, progress=not options.quick,
                    device=options.device)


def _kinds(s: DiffusionDemoSettings, options: DemoOptions, data) -> tuple[list[GuidanceKind], dict]:
    kinds, info = [], {}
    root = options.zoo_root
    robust_clean = zoo.get(s.robust, root=root).to(options.device)
    refiner = BigrocRefiner(robust_clean, eps=s.refine_eps, steps=s.refine_steps)
    if "x0" in s.kinds:
        standard_clean = zoo.get(s.standard, root=root).to(options.device)
        std_guide = CleanGuidance(standard_clean, s.through_unet, s.x0_weighting)
        rob_guide = CleanGuidance(robust_clean, s.through_unet, s.x0_weighting)
        kinds += [GuidanceKind("x0-hat, standard", std_guide, None, "x0-hat", False, s.x0_scales),
                  GuidanceKind("x0-hat, robust", rob_guide, None, "x0-hat", True, s.x0_scales),
                  GuidanceKind("x0-hat, robust + BIGRoC", rob_guide, refiner, "x0-hat", True, s.x0_scales)]
    if "noise-aware" in s.kinds:
        nroot = s.noise_root or (options.zoo_root if options.quick else None)
        cfg = dict(batch_size=64 if not options.quick else 8, attack_steps=s.attack_steps, width=s.noise_width,
                   seed=options.seed)
        std, i_std = get_noise_classifier(NoiseClassifierConfig(steps=s.noise_steps, **cfg), root=nroot,
                                          images=data.images, labels=data.targets, progress=not options.quick)
        adv, i_adv = get_noise_classifier(NoiseClassifierConfig(steps=s.adv_steps, eps=s.adv_eps, **cfg),
                                          root=nroot, images=data.images, labels=data.targets,
                                          progress=not options.quick)
        std, adv = std.to(options.device), adv.to(options.device)
        info["noise-aware standard"], info["noise-aware adversarial"] = i_std, i_adv
        kinds += [GuidanceKind("noise-aware, standard", NoiseAwareGuidance(std), None, "noise-aware", False),
                  GuidanceKind("noise-aware, adversarial", NoiseAwareGuidance(adv), None, "noise-aware", True),
                  GuidanceKind("noise-aware, adversarial + BIGRoC", NoiseAwareGuidance(adv), refiner,
                               "noise-aware", True)]
        info["noise-aware classifiers"] = (std, adv)
    return kinds, info


def demo(section: Section, options: DemoOptions) -> None:
    """Grids per class for each guidance kind, the sweep table and plot, and robust-versus-standard margins."""
    s = DiffusionDemoSettings.from_options(options)
    torch.manual_seed(options.seed)
    start = time.time()
    train = load_dataset("fashion-mnist", "train")
    test = load_dataset("fashion-mnist", "test")
    if options.quick:
        train = subset(train, 512, seed=options.seed)
        test = subset(test, 400, seed=options.seed)
    names = list(train.info.class_names)

    pipe, ddpm_info = _ddpm(s, options, train.images)
    section.add_text(("Using the cached DDPM at " if ddpm_info.get("cached") else "Trained a new DDPM, cached at ")
                     + f"{ddpm_info.get('path')}.")
    pipe = pipe.to(options.device)
    pipe.scheduler = DDIMScheduler.from_config(make_scheduler().config)
    pipe.set_progress_bar_config(disable=True)

    kinds, info = _kinds(s, options, train)
    if "noise-aware classifiers" in info:
        std, adv = info.pop("noise-aware classifiers")
        acc = {name: noised_accuracy(m, test.images[:1000], test.targets[:1000], make_scheduler())
               for name, m in (("standard", std), ("adversarial", adv))}
        section.add_table(pd.DataFrame(acc).rename_axis("t"), "noise-aware classifier accuracy",
                          "accuracy of the time-dependent classifiers on test images noised to step t")

    if options.quick:
        evaluator = Evaluator(train_evaluator(train, "mlp", n=500), "mlp stand-in")
    else:
        evaluator = Evaluator(zoo.get(s.evaluator, root=options.zoo_root), s.evaluator)
    ref = subset(test, s.reference_size, seed=options.seed) if len(test.images) > s.reference_size else test
    reference = RealReference(evaluator, ref.images, ref.targets, pca_dim=min(16, len(test.images) - 1))
    labels = class_labels(s.classes, s.per_class)
    table, images = sweep(pipe, kinds, s.scales, labels, reference, seed=options.seed, steps=s.sampling_steps)

    best = best_scales(table)
    pairs = []
    if "x0" in s.kinds:
        pairs += [("x0-hat, robust", "x0-hat, standard"), ("x0-hat, robust + BIGRoC", "x0-hat, standard")]
    if "noise-aware" in s.kinds:
        pairs += [("noise-aware, adversarial", "noise-aware, standard"),
                  ("noise-aware, adversarial + BIGRoC", "noise-aware, standard")]
    gains = [margins(best, r, st) for r, st in pairs]

    def grid_scale(k):
        sc = k.scales or s.scales
        return s.grid_scale if s.grid_scale in sc else sc[len(sc) // 2]
    keys = [(UNGUIDED, 0.0)] + [(k.name, grid_scale(k)) for k in kinds]
    section.add_figure(plot_grids(images, keys, labels, names), "grids",
                       f"rows: classes; same seeds in every panel; DDIM {s.sampling_steps} steps")
    section.add_figure(plot_sweep(table), "sweep", "evaluator accuracy and Fréchet distance versus guidance scale")
    section.add_table(table.set_index(["kind", "scale"]), "sweep", "same seeds and scales for every kind")
    section.add_table(best.set_index("kind"), "best scales", "each kind at its own best scale")
    section.add_table(pd.DataFrame(gains).set_index("robust"), "robust minus standard",
                      "positive = robust better (accuracy gain, Fréchet-distance reduction), best scale of each")
    section.add_settings({**asdict(s), "ddpm": {k: v for k, v in ddpm_info.items() if k != "loss"},
                          "noise classifiers": {k: v.get("config") for k, v in info.items()},
                          "seconds": round(time.time() - start, 1)})


demo.opt_in = True
