"""``compare``: the generation tasks on several models from the same seeds, judged independently; the contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn

from optimist.core.application import Result, check_compatible, resolve_data, resolve_models, run_settings
from optimist.core.data import ImageTensorDataset
from optimist.core.kit import preserved, resolve_device, seeded, t_interval
from optimist.core.models import require_classifier
from optimist.core.settings import Settings, SettingsError, setting
from optimist.generation.evaluate import NOISE_DRAWS, NOISE_SIGMA, Evaluator, improvement_summary, train_evaluator
from optimist.generation.metrics import frechet_distance, mse, ssim
from optimist.generation.showcase import TASKS, ShowcaseConfig, balanced_inputs, real_reference, run_showcase

ZOO_EVALUATOR = "fashion-mnist/lenet/evaluator"


@dataclass(frozen=True)
class GenerationSettings(Settings):
    """Tasks, sizes, budgets and the judge of ``optimist.generation.compare``."""

    n: int = setting(40, "test images fed to inpainting, super-resolution, translation and inversion", minimum=2)
    per_class: int = setting(8, "class generation: seeds per class", minimum=2)
    n_units: int = setting(8, "feature visualisation: seeds (one top unit each)", minimum=1)
    tasks: tuple[str, ...] = setting(TASKS, "tasks to run", choices=TASKS)
    seed_resolution: int = setting(4, "class Gaussians fitted at this resolution, then upsampled", minimum=1)
    sr_factor: int = setting(4, "super-resolution: downsampling factor", minimum=2)
    mask_size: int = setting(10, "inpainting: side of the square hole (pixels)", minimum=1)
    lam: float = setting(10.0, "inpainting: weight of the data term outside the hole", minimum=0.0)
    confidence: float = setting(0.9, "generation/translation stop at this target probability (0: never)",
                                minimum=0.0, maximum=1.0)
    steps_factor: float = setting(1.0, "multiplies every task's PGD steps (step size divided alike)",
                                  minimum=0.01)
    evaluator: str = setting("auto", "judge: a model spec; auto (the zoo's LeNet evaluator on Fashion-MNIST, "
                                     "else mlp); mlp (an MLP trained for 2 epochs on train_data)")
    train_data: str = setting("", "data spec the class seeds are fitted on (empty: the data's train split, "
                                  "or the data itself)")
    reference_size: int = setting(3000, "real images the Fréchet distance compares with", minimum=2)
    bootstrap: int = setting(200, "bootstrap resamples for the Fréchet-distance interval", minimum=20)

    def validate(self) -> None:
        if not self.tasks:
            raise SettingsError("setting 'tasks' needs at least one task")


def _train_split(data, s: GenerationSettings, test) -> object:
    if s.train_data:
        return resolve_data(s.train_data, split="train")
    if isinstance(data, str) and not data.startswith(("tensors:", "imagefolder:")):
        try:
            return resolve_data(data, split="train")
        except (ValueError, FileNotFoundError):
            return test
    return test


def _evaluator(s: GenerationSettings, train, models: Mapping[str, nn.Module], seed: int) -> tuple[nn.Module, str]:
    if s.evaluator not in ("auto", "mlp"):
        from optimist.core.models import resolve

        return resolve(s.evaluator), s.evaluator
    info = train.info
    if s.evaluator == "auto" and info.name == "fashion-mnist" and info.shape == (1, 28, 28) \
            and info.num_classes == 10:
        from optimist.core import zoo

        return zoo.get(ZOO_EVALUATOR, progress=False), f"zoo:{ZOO_EVALUATOR} (LeNet, seed 7)"
    model = train_evaluator(train, arch="mlp", n=min(3000, len(train)), epochs=2, seed=seed + 7)
    return model, f"an MLP trained for 2 epochs on {min(3000, len(train))} images of {info.name}"


def _fd_interval(feats: torch.Tensor, targets: torch.Tensor, reference, s: GenerationSettings,
                 rng: np.random.Generator, seed: int) -> tuple[float, float, float]:
    value = reference.frechet(feats, targets, seed=seed)
    idx = reference.sample_like(targets, seed=seed)
    real = reference.projection(reference.features[idx].numpy())
    own = reference.projection(feats.numpy())
    boots = [frechet_distance(own[b], real) for b in (rng.integers(0, len(own), len(own))
                                                     for _ in range(s.bootstrap))]
    # resampling with replacement inflates a Fréchet distance (duplicates shrink the covariance), so the
    # percentile interval sits above the estimate; the bootstrap's spread around the estimate is what is reported
    half = 1.96 * float(np.std(boots, ddof=1))
    return value, value - half, value + half


def _measure(task: str, label: str, r, judge: Evaluator, reference, s, rng, seed) -> tuple[list, pd.DataFrame]:
    rows, per = [], {"model": label, "task": task, "image": np.arange(len(r))}
    feats, preds = judge._run(r.images)
    if r.targets is not None and len(r.targets) >= 2:
        correct = (preds == r.targets).double().numpy()
        g = torch.Generator().manual_seed(seed)
        noisy = np.zeros(len(r))
        for _ in range(NOISE_DRAWS):
            x = (r.images + NOISE_SIGMA * torch.randn(r.images.shape, generator=g)).clamp(0, 1)
            noisy += (judge.predict(x) == r.targets).double().numpy() / NOISE_DRAWS
        for name, v in (("evaluator accuracy", correct), ("noised accuracy", noisy)):
            m, lo, hi = t_interval(v)
            rows.append((name, m, lo, hi, len(v)))
            per[name] = v
        fd, lo, hi = _fd_interval(feats, r.targets, reference, s, rng, seed)
        rows.append(("frechet distance", fd, lo, hi, len(r)))
    if r.reference is not None:
        for name, fn in (("mse", mse), ("ssim", ssim)):
            v = fn(r.images, r.reference).double().numpy()
            m, lo, hi = t_interval(v)
            rows.append((name, m, lo, hi, len(v)))
            per[name] = v
    out = [{"model": label, "measurement": f"{task}: {name}", "value": m, "low": lo, "high": hi, "n": k,
            "task": task, "metric": name} for name, m, lo, hi, k in rows]
    return out, pd.DataFrame(per)


def compare(models: Mapping[str, nn.Module | str], data="fashion-mnist", *, device=None, progress: bool = True,
            seed: int = 0, **settings) -> Result:
    """Class generation, inpainting, super-resolution, translation, inversion and feature visualisation with each
    model from the same seeds, judged by an evaluator that generated nothing.

    ``data`` supplies the task inputs (its first images) and the real reference (its later images); class seeds
    are fitted on ``train_data``. Intervals: Student-t over images for accuracies, MSE and SSIM; bootstrap over the
    generated images for the Fréchet distance (estimate ± 1.96 bootstrap standard deviations).
    """
    s = GenerationSettings.from_mapping(settings)
    device = resolve_device(device)
    named = resolve_models(models)
    for label, m in named.items():
        require_classifier(m, f"generation (model {label!r})")
    test = resolve_data(data)
    check_compatible(named, test)
    train = _train_split(data, s, test)
    n_ref = min(s.reference_size, len(test) - s.n)
    if n_ref < 2:
        raise SettingsError(f"the data has {len(test)} images: too few for n={s.n} task inputs plus a real reference "
                            "(lower n or pass more images)")
    split = len(test) - n_ref if len(test) < 5000 + n_ref else 5000
    rest = split + balanced_inputs(test.images[split:], test.targets[split:], len(test) - split, seed)
    order = torch.cat([torch.arange(split), rest])  # the real reference: classes interleaved, so any prefix has all
    test = ImageTensorDataset(test.images[order], test.targets[order], test.info)
    n_ref = min(n_ref, len(test) - split)
    cfg = ShowcaseConfig(per_class=s.per_class, n_inputs=s.n, n_units=s.n_units, seed_resolution=s.seed_resolution,
                         sr_factor=s.sr_factor, mask_size=s.mask_size, lam=s.lam,
                         confidence=s.confidence or None, tasks=tuple(s.tasks), reference_split=split,
                         reference_size=n_ref, seed=seed, translation=_translation(test.info.num_classes))
    if s.steps_factor != 1.0:
        cfg = cfg.scaled_steps(s.steps_factor)
    rng = np.random.default_rng(seed)
    with preserved(named.values()), seeded(seed, [device]):
        evaluator, about = _evaluator(s, train, named, seed)
        with preserved(evaluator):
            evaluator.to(device).eval()
            for m in named.values():
                m.to(device)
            reference = real_reference(evaluator, test, cfg)
            out = run_showcase(named, evaluator, train, test, cfg, progress=progress, reference=reference)
            judge = Evaluator(evaluator)
            rows, per = [], []
            for task, results in out.results.items():
                for label, r in results.items():
                    a, b = _measure(task, label, r, judge, reference, s, rng, seed)
                    rows += a
                    per.append(b)
    table = pd.DataFrame(rows)
    figures, captions = _figures(out, test.info.class_names)
    names = list(named)
    extra = {"All measures, with the seeds and real images as references": out.table.set_index(["task",
                                                                                                  "generator"])}
    if len(names) > 1:
        gains = improvement_summary(out.table, names[-1], names[0])
        if not gains.empty:
            extra[f"{names[-1]} minus {names[0]}"] = gains
    text = (f"A classifier can generate: every task runs core's PGD engine on the classifier's own objective, from "
            f"the same seeds for every model (Santurkar et al. 2019; Engstrom et al. 2019). Judge: {about}; it "
            "generated nothing. Evaluator accuracy: does an independent classifier see the target class? Noised "
            f"accuracy: the same under Gaussian pixel noise (sigma {NOISE_SIGMA}, {NOISE_DRAWS} draws), which "
            "small adversarial patterns do not survive. Fréchet distance in the evaluator's features to real "
            "images of the same classes (lower is better; the 'real images' reference row is the floor).")
    record = run_settings("generation", s, models, data, seed=seed, device=device)
    record["evaluator"] = about
    record["budgets"] = {t: b.to_dict() for t, b in cfg.budgets.items() if t in cfg.tasks}
    return Result("generation", table, pd.concat(per, ignore_index=True), figures, captions, record, text, extra)


def _translation(num_classes: int) -> dict[int, int]:
    from optimist.generation.showcase import FMNIST_TRANSLATION

    if num_classes == 10:
        return dict(FMNIST_TRANSLATION)
    return {k: (k + 1) % num_classes for k in range(num_classes)}


def _figures(out, class_names):
    from optimist.generation.figures import overview, task_grid

    figures = {"overview": overview(out.results, class_names, n=6)}
    captions = {"overview": "Each task: the seeds, then each model's output from those seeds (first model first), "
                            "and the ground truth where there is one. Look for garments in the robust rows and "
                            "noise-like patterns in the standard ones."}
    for task, results in out.results.items():
        figures[task] = task_grid(results, class_names, n=10, title=task)
        captions[task] = f"{task}: seeds, then each model's output, then the ground truth if any."
    return figures, captions


__all__ = ["GenerationSettings", "compare"]
