"""``optimist demo diffusion``: robust versus standard classifier guidance of a Fashion-MNIST DDPM.

Opt-in (on 2 CPU cores it trains a DDPM for ~15 minutes and two noise-aware classifiers for a few more, then
caches them). Settings can be changed with ``--set KEY=VALUE`` (see :class:`DiffusionDemoSettings`);
``--set preset=gpu`` selects :meth:`DiffusionDemoSettings.gpu`, a larger setting for one GPU (not run here).
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
from optimist.core.errors import InputError
from optimist.core.report import Section
from optimist.generation.diffusion.cache import get_ddpm, get_noise_classifier, load_ddpm
from optimist.generation.diffusion.compare import (
    UNGUIDED,
    GuidanceKind,
    best_scales,
    class_labels,
    correctness,
    margins,
    plot_grids,
    plot_sweep,
    sweep,
)
from optimist.generation.diffusion.guidance import CleanGuidance, NoiseAwareGuidance
from optimist.generation.diffusion.noise_classifier import NoiseClassifierConfig
from optimist.generation.diffusion.noise_curve import accuracy_curve, plot_accuracy_curve
from optimist.generation.diffusion.refine import BigrocRefiner
from optimist.generation.diffusion.train_ddpm import CPU_TRAINING, GPU_TRAINING, DDPMTrainConfig, make_scheduler
from optimist.generation.evaluate import Evaluator, RealReference, train_evaluator

STANDARD, ROBUST = "fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/linf-0.1"
EVALUATOR = "fashion-mnist/lenet/evaluator"


PRESETS = ("cpu", "gpu", "quick")


@dataclass
class DiffusionDemoSettings:
    """Everything the demo does; ``from_options`` reads overrides from ``options.extra`` (unknown keys are an
    error). ``preset`` ("cpu", the default; "gpu"; "quick") picks the base the other keys override."""

    preset: str = "cpu"
    unet: str = "mini"
    ddpm_steps: int = CPU_TRAINING.steps
    ddpm_batch: int = CPU_TRAINING.batch_size
    ddpm_lr: float = CPU_TRAINING.lr
    ema: float = CPU_TRAINING.ema_decay
    ddpm_dir: str | None = None  # a saved pipeline folder to use instead of the zoo's
    # noise-aware classifiers: Kawar et al.'s recipe (AdamW 3e-4, L2 0.5 on x_t, 7 steps of 2.5 eps / 7,
    # per-example early stop), with fewer optimiser steps on a CPU
    noise_steps: int = 1500  # the same number of optimiser steps for both, so only the training differs
    adv_steps: int = 1500
    noise_batch: int = 64
    noise_lr: float = 3e-4
    noise_weight_decay: float = 0.05
    noise_lr_schedule: str = "constant"
    adv_eps: float = 0.5
    attack_steps: int = 7
    noise_width: int = 32
    noise_root: str | None = None
    standard: str = STANDARD
    robust: str = ROBUST
    evaluator: str = EVALUATOR
    refine_eps: float = 1.5
    refine_steps: int = 5
    through_unet: bool = False  # x0-hat guidance: treat eps_theta as constant (3x cheaper on a CPU)
    x0_weighting: str = "x0"  # "x0": move x0_hat by s * grad (late steps); "xt": plain guidance on x_t
    # One sweep for every kind: standard and robust share every scale, x0-hat and noise-aware alike.
    # With x0_weighting="xt" use scales around 0.01-0.1 (its weight reaches ~160 at t = 999).
    x0_scales: list[float] = field(default_factory=lambda: [1.0, 3.0, 10.0, 30.0])
    scales: list[float] | None = None  # noise-aware guidance; None: the same as x0_scales
    reference_size: int = 3000  # real test images whose evaluator features are the Fréchet reference
    curve_size: int = 1000  # test images for accuracy versus t
    curve_timesteps: list[int] = field(default_factory=lambda: list(range(0, 1000, 50)))
    classes: list[int] = field(default_factory=lambda: list(range(10)))
    per_class: int = 6
    sampling_steps: int = 25
    grid_scale: float | None = None  # default: the middle scale
    kinds: list[str] = field(default_factory=lambda: ["x0", "noise-aware"])

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise InputError(f"unknown diffusion preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if bad := set(self.kinds) - {"x0", "noise-aware"}:
            raise InputError(f"unknown guidance kinds {sorted(bad)}; choose from 'x0', 'noise-aware'")
        if self.curve_size < 1 or not self.curve_timesteps or not all(0 <= t < 1000 for t in self.curve_timesteps):
            raise InputError(f"curve_size must be >= 1 and curve_timesteps in [0, 1000), got {self.curve_size}, "
                             f"{self.curve_timesteps}")
        if min(self.noise_steps, self.adv_steps, self.noise_batch, self.attack_steps, self.per_class) < 1:
            raise InputError("noise_steps, adv_steps, noise_batch, attack_steps and per_class must be >= 1")

    @property
    def noise_scales(self) -> list[float]:
        return list(self.scales) if self.scales is not None else list(self.x0_scales)

    @classmethod
    def quick(cls) -> "DiffusionDemoSettings":
        return cls(preset="quick", unet="tiny", ddpm_steps=20, ddpm_batch=16, noise_steps=4, adv_steps=2,
                   noise_batch=8, attack_steps=1, noise_width=8, refine_steps=1, x0_scales=[0.1], classes=[0, 1, 2, 3],
                   per_class=2, sampling_steps=2, reference_size=400, curve_size=40, curve_timesteps=[0, 500, 950])

    @classmethod
    def gpu(cls) -> "DiffusionDemoSettings":
        """A larger setting for one GPU (``--set preset=gpu --device cuda``): the "gpu" UNet trained as
        ``GPU_TRAINING``, noise-aware classifiers nearer Kawar et al.'s 150k iterations, 20 samples per class.
        Not measured on this project's CPU machine."""
        return cls(preset="gpu", unet="gpu", ddpm_steps=GPU_TRAINING.steps, ddpm_batch=GPU_TRAINING.batch_size,
                   ddpm_lr=GPU_TRAINING.lr, ema=GPU_TRAINING.ema_decay, noise_steps=50000, adv_steps=50000,
                   noise_batch=256, noise_width=64, through_unet=True, per_class=20, sampling_steps=50,
                   curve_size=5000)

    @classmethod
    def from_options(cls, options: DemoOptions) -> "DiffusionDemoSettings":
        names = {f.name for f in fields(cls)}
        nested = options.extra.get("diffusion")  # {"diffusion": {...}} or top-level keys; others are ignored
        extra = dict(nested) if isinstance(nested, dict) else {}
        extra.update({k: v for k, v in options.extra.items() if k in names})
        bad = set(extra) - names
        if bad:
            raise InputError(f"unknown diffusion demo settings {sorted(bad)}; known: {sorted(names)}")
        preset = extra.pop("preset", "quick" if options.quick else "cpu")
        if preset not in PRESETS:
            raise InputError(f"unknown diffusion preset {preset!r}; choose one of {', '.join(PRESETS)}")
        base = {"cpu": cls, "gpu": cls.gpu, "quick": cls.quick}[preset]()
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
        cfg = dict(batch_size=s.noise_batch, lr=s.noise_lr, weight_decay=s.noise_weight_decay,
                   lr_schedule=s.noise_lr_schedule, attack_steps=s.attack_steps, width=s.noise_width,
                   seed=options.seed)
        std, i_std = get_noise_classifier(NoiseClassifierConfig(steps=s.noise_steps, **cfg), root=nroot,
                                          images=data.images, labels=data.targets, progress=not options.quick)
        adv, i_adv = get_noise_classifier(NoiseClassifierConfig(steps=s.adv_steps, eps=s.adv_eps, **cfg),
                                          root=nroot, images=data.images, labels=data.targets,
                                          progress=not options.quick)
        std, adv = std.to(options.device), adv.to(options.device)
        info["noise-aware standard"], info["noise-aware adversarial"] = i_std, i_adv
        sc = s.noise_scales
        kinds += [GuidanceKind("noise-aware, standard", NoiseAwareGuidance(std), None, "noise-aware", False, sc),
                  GuidanceKind("noise-aware, adversarial", NoiseAwareGuidance(adv), None, "noise-aware", True, sc),
                  GuidanceKind("noise-aware, adversarial + BIGRoC", NoiseAwareGuidance(adv), refiner,
                               "noise-aware", True, sc)]
        info["noise-aware classifiers"] = (std, adv)
    info["clean classifiers"] = {"standard small CNN": standard_clean if "x0" in s.kinds else
                                 zoo.get(s.standard, root=root).to(options.device), "robust small CNN": robust_clean}
    return kinds, info


def _accuracy_curve(section: Section, s: DiffusionDemoSettings, options: DemoOptions, unet, noise_models,
                    clean_models: dict, test) -> None:
    """Accuracy versus t: the noise-aware classifiers on x_t, clean classifiers on the DDPM's one-step x0_hat."""
    start = time.time()
    data = subset(test, s.curve_size, seed=options.seed) if len(test.images) > s.curve_size else test
    std, adv = noise_models
    table = accuracy_curve({"standard": std, "adversarial": adv}, data.images, data.targets, make_scheduler(),
                           unet=unet, clean_models=clean_models, timesteps=tuple(s.curve_timesteps),
                           seed=options.seed, progress=not options.quick)
    section.add_figure(plot_accuracy_curve(table), "noise-accuracy",
                       f"test accuracy versus t on {len(data.images)} test images (same noise for every reader): "
                       "noise-aware classifiers on x_t, clean classifiers on the DDPM's one-step x0-hat")
    section.add_table(table, "noise-aware classifier accuracy",
                      "accuracy versus diffusion step t; alpha_bar and snr = sqrt(alpha_bar / (1 - alpha_bar)) give "
                      f"the noise level; x0-hat columns: clean classifiers on the DDPM's one-step estimate "
                      f"({time.time() - start:.0f} s)")


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
    clean = info.pop("clean classifiers")
    if options.quick:
        evaluator = Evaluator(train_evaluator(train, arch="mlp", n=500), "mlp stand-in")
    else:
        evaluator = Evaluator(zoo.get(s.evaluator, root=options.zoo_root), s.evaluator)
    if "noise-aware classifiers" in info:
        _accuracy_curve(section, s, options, pipe.unet, info.pop("noise-aware classifiers"),
                        {**clean, "evaluator": evaluator.model}, test)

    ref = subset(test, s.reference_size, seed=options.seed) if len(test.images) > s.reference_size else test
    reference = RealReference(evaluator, ref.images, ref.targets, pca_dim=min(16, len(test.images) - 1))
    labels = class_labels(s.classes, s.per_class)
    table, images = sweep(pipe, kinds, s.x0_scales, labels, reference, seed=options.seed, steps=s.sampling_steps)
    correct = correctness(images, labels, reference)

    best = best_scales(table)
    pairs = []
    if "x0" in s.kinds:
        pairs += [("x0-hat, robust", "x0-hat, standard"), ("x0-hat, robust + BIGRoC", "x0-hat, standard")]
    if "noise-aware" in s.kinds:
        pairs += [("noise-aware, adversarial", "noise-aware, standard"),
                  ("noise-aware, adversarial + BIGRoC", "noise-aware, standard")]
    gains = [margins(best, r, st, correct=correct) for r, st in pairs]

    def grid_scale(k):
        sc = k.scales or s.x0_scales
        return s.grid_scale if s.grid_scale in sc else sc[len(sc) // 2]
    keys = [(UNGUIDED, 0.0)] + [(k.name, grid_scale(k)) for k in kinds]
    section.add_figure(plot_grids(images, keys, labels, names), "grids",
                       f"rows: classes; same seeds in every panel; DDIM {s.sampling_steps} steps")
    section.add_figure(plot_sweep(table), "sweep", "evaluator accuracy and Fréchet distance versus guidance scale")
    section.add_table(table.set_index(["kind", "scale"]), "sweep", "same seeds and scales for every kind")
    section.add_table(best.set_index("kind"), "best scales", "each kind at its own best scale")
    section.add_table(pd.DataFrame(gains).set_index("robust"), "robust minus standard",
                      "positive = robust better (accuracy gain, Fréchet-distance reduction), best scale of each; gain "
                      f"low/high: 95% paired normal interval over the {len(labels)} same-seed samples")
    section.add_settings({**asdict(s), "ddpm": {k: v for k, v in ddpm_info.items() if k != "loss"},
                          "noise classifiers": {k: {"config": v.get("config"), "seconds": v.get("seconds"),
                                                  "cached": v.get("cached")} for k, v in info.items()},
                          "seconds": round(time.time() - start, 1)})


demo.opt_in = True
