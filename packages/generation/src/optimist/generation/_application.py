"""``compare``: the generation tasks on several models from the same seeds, judged independently; the contract."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

import numpy as np
import pandas as pd
import torch
from torch import nn

from optimist.core import zoo
from optimist.core.application import (
    SMALL_SIDE,
    Result,
    Run,
    claim,
    claim_pair,
    prepare,
    resolve_data,
)
from optimist.core.data import ImageTensorDataset
from optimist.core.errors import InputError, SettingsError
from optimist.core.runtime import preserved
from optimist.core.settings import Settings, setting
from optimist.core.specs import resolve_model as resolve
from optimist.core.stats import paired_interval, t_interval
from optimist.generation.budgets import DEFAULTS, Budget, for_images
from optimist.generation.evaluate import (
    NOISE_DRAWS,
    NOISE_SIGMA,
    Evaluator,
    PixelReference,
    improvement_summary,
    pixel_features,
    train_evaluator,
)
from optimist.generation.figures import overview, task_grid
from optimist.generation.judges import KNN_K, PixelJudge
from optimist.generation.metrics import frechet_distance, mse, ssim
from optimist.generation.showcase import (
    FMNIST_TRANSLATION,
    TASKS,
    ShowcaseConfig,
    balanced_inputs,
    real_reference,
    run_showcase,
)
from optimist.generation.sweep_table import COMMAND, SHIPPED, sweep_figure
from optimist.generation.tasks.engine import batches_by

ZOO_EVALUATOR = "fashion-mnist/lenet/evaluator"
ZOO_JUDGE = "fashion-mnist/mlp/robust-judge"


@dataclass(frozen=True)
class GenerationSettings(Settings):
    """Tasks, sizes, budgets and the judge of ``optimist.generation.compare``."""

    n: int = setting(40, "test images fed to inpainting, super-resolution, translation and inversion", minimum=2)
    per_class: Optional[int] = setting(None, "class generation: seeds per class (default: 2n / classes, at least "
                                             "2 and at most 8: 8 for n=40 on ten classes)", minimum=2)
    classes: Optional[int] = setting(None, "class generation: how many classes get seeds, drawn with the seed "
                                           "(default: as many as 2n seeds cover at per_class each, at most all: "
                                           "every class for n=40 on ten, 4 for n=4)", minimum=1)
    n_units: Optional[int] = setting(None, "feature visualisation: seeds, one top unit each (default: n, at most "
                                           "8)", minimum=1)
    tasks: tuple[str, ...] = setting(TASKS, "tasks to run", choices=TASKS)
    seed_resolution: int = setting(4, "class Gaussians fitted at this resolution, then upsampled", minimum=1)
    sr_factor: int = setting(4, "super-resolution: downsampling factor", minimum=2)
    mask_size: int = setting(10, "inpainting: side of the square hole (pixels)", minimum=1)
    lam: float = setting(10.0, "inpainting: weight of the data term outside the hole", minimum=0.0)
    confidence: float = setting(0.0, "generation/translation/sketch stop at this target probability (0: never)",
                                minimum=0.0, maximum=1.0)
    steps_factor: Optional[float] = setting(None, "multiplies every task's PGD steps (step size divided alike; "
                                                  "default: 1 for images up to 32x32, 0.5 above, where a step "
                                                  "costs a large model's forward and backward pass)",
                                            minimum=0.01)
    evaluator: str = setting("auto", "judge: a model spec; auto (the zoo's LeNet evaluator on Fashion-MNIST, "
                                     "else mlp); mlp (an MLP trained for 2 epochs on train_data)")
    judge: str = setting("auto", "robust judge, never used to generate: a model spec; auto (the zoo's MLP "
                                 "adversarially trained at L2 2 on Fashion-MNIST, none elsewhere); none")
    train_data: str = setting("", "data spec the class seeds are fitted on (empty: the data's train split, "
                                  "or the data itself)")
    reference_size: int = setting(3000, "real images the Fréchet distance compares with", minimum=2)
    bootstrap: int = setting(200, "bootstrap resamples for the Fréchet-distance interval", minimum=20)
    budget: tuple[str, ...] = setting((), "per-task budget overrides, e.g. 'class-generation:eps=8,steps=100' "
                                          "(keys eps, steps, step_size; eps=inf: unbounded; without step_size "
                                          "a bounded one gets 2.5 eps / steps). The defaults, chosen at 28x28, "
                                          "scale with sqrt(values per image / 784): the same per-pixel change")
    knn_bank: int = setting(6000, "held-out training images the pixel judges (k-NN, realism) compare with; "
                                  "the class seeds are fitted on the rest", minimum=20)
    figures: bool = setting(True, "draw the image grids (off for sweeps)")
    sweep: str = setting("", "a CSV written by python -m optimist.generation.sweep to draw as the eps/steps "
                             "figure ('shipped': the measured one in the package; empty: none)")
    batch_size: Optional[int] = setting(None, "images per batch of every task's descent (default: chosen from the "
                                              "models and the image size, to bound memory)", minimum=1)

    def validate(self) -> None:
        if not self.tasks:
            raise SettingsError("setting 'tasks' needs at least one task")
        parse_budgets(self.budget)
        if self.sweep and self.sweep != "shipped" and not Path(self.sweep).is_file():
            raise SettingsError(f"setting 'sweep': no file {self.sweep!r} (write one with "
                                "python -m optimist.generation.sweep --out FILE, or use 'shipped')")


def parse_budgets(overrides: tuple[str, ...], base: Mapping[str, Budget] = DEFAULTS) -> dict[str, Budget]:
    """The default budgets with ``'TASK:eps=8,steps=100'`` overrides applied (SettingsError on a bad one)."""
    out = dict(base)
    for text in overrides:
        task, sep, body = text.partition(":")
        if not sep or task not in out:
            raise SettingsError(f"budget override {text!r} must read 'TASK:key=value,...' with TASK one of "
                                f"{', '.join(out)}")
        changes: dict = {}
        for item in body.split(","):
            key, eq, value = item.partition("=")
            key = key.strip()
            if not eq or key not in ("eps", "steps", "step_size"):
                raise SettingsError(f"budget override {text!r}: {item!r} is not eps=, steps= or step_size=")
            try:
                changes[key] = int(value) if key == "steps" else float(value)
            except ValueError:
                raise SettingsError(f"budget override {text!r}: {value!r} is not a number") from None
        if "step_size" not in changes and ("eps" in changes or "steps" in changes):
            eps, steps = changes.get("eps", out[task].eps), changes.get("steps", out[task].steps)
            if np.isfinite(eps):
                changes["step_size"] = 2.5 * eps / steps
        try:
            out[task] = out[task].with_(**changes)
        except ValueError as e:
            raise SettingsError(f"budget override {text!r}: {e}") from None
    return out


def seed_counts(s: GenerationSettings, num_classes: int) -> tuple[int, int, int]:
    """(seeds per class, classes with seeds, feature-visualisation seeds): the settings', else counts that follow
    ``n``, so that the work grows with the images asked for, not with the number of classes (8 seeds for each of
    ten classes and 8 for n=40 on ten classes; 2 for each of 4 classes at n=4, on ten classes or a thousand).

    >>> seed_counts(GenerationSettings.from_mapping({"n": 4}), 10), seed_counts(GenerationSettings(), 10)
    ((2, 4, 4), (8, 10, 8))
    """
    per_class = s.per_class or max(2, min(8, math.ceil(2 * s.n / max(1, num_classes))))
    classes = min(num_classes, s.classes or math.ceil(2 * s.n / per_class))
    return per_class, classes, s.n_units or min(8, s.n)


def steps_factor(s: GenerationSettings, side: int) -> float:
    """The setting, else 1 for images up to 32x32 and 0.5 above (a step there costs a large model's forward and
    backward pass; the step sizes double, so every task still reaches its radius).

    >>> steps_factor(GenerationSettings(), 28), steps_factor(GenerationSettings(), 224)
    (1.0, 0.5)
    """
    return s.steps_factor or (1.0 if side <= SMALL_SIDE else 0.5)


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
        return resolve(s.evaluator), s.evaluator
    info = train.info
    if s.evaluator == "auto" and info.name == "fashion-mnist" and info.shape == (1, 28, 28) \
            and info.num_classes == 10:
        return zoo.get(ZOO_EVALUATOR, progress=False), f"zoo:{ZOO_EVALUATOR} (LeNet, seed 7)"
    model = train_evaluator(train, arch="mlp", n=min(3000, len(train)), epochs=2, seed=seed + 7)
    return model, f"an MLP trained for 2 epochs on {min(3000, len(train))} images of {info.name}"


def _robust_judge(s: GenerationSettings, train) -> tuple[Evaluator | None, str]:
    if s.judge == "none":
        return None, "none"
    if s.judge != "auto":
        return Evaluator(resolve(s.judge), "robust judge"), s.judge
    info = train.info
    if info.name == "fashion-mnist" and info.shape == (1, 28, 28) and info.num_classes == 10:
        return (Evaluator(zoo.get(ZOO_JUDGE, progress=False), "robust judge"),
                f"zoo:{ZOO_JUDGE} (an MLP, seed 11, PGD-AT L2 2)")
    return None, "none (no robust judge for this data; pass judge=SPEC)"


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


def _measure(task: str, label: str, r, judge: Evaluator, robust_judge: Evaluator | None, pixels: PixelJudge,
             reference: PixelReference, s, rng, seed, fd_features: dict) -> tuple[list, pd.DataFrame]:
    rows, per = [], {"model": label, "task": task, "image": np.arange(len(r))}
    preds = judge.predict(r.images)
    if r.targets is not None and len(r.targets) >= 2:
        feats = pixel_features(r.images)
        fd_features[(task, label)] = (feats, r.targets)
        correct = (preds == r.targets).double().numpy()
        g = torch.Generator().manual_seed(seed)
        noisy = np.zeros(len(r))
        for _ in range(NOISE_DRAWS):
            x = (r.images + NOISE_SIGMA * torch.randn(r.images.shape, generator=g)).clamp(0, 1)
            noisy += (judge.predict(x) == r.targets).double().numpy() / NOISE_DRAWS
        values = {"evaluator accuracy": correct, "noised accuracy": noisy,
                  "knn accuracy": pixels.knn_correct(r.images, r.targets),
                  "realism": pixels.realism(r.images, r.targets)}
        if robust_judge is not None:
            values["judge accuracy"] = (robust_judge.predict(r.images) == r.targets).double().numpy()
        for name, v in values.items():
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


#: what each task's claim says, and the judges it is checked with (metric, label, higher is better)
CLAIMS = {
    "class-generation": "generated images show the requested class",
    "translation": "translated images show the target class",
    "sketch-to-image": "images drawn from sketches show their class",
    "inversion": "inversions show the class of the inverted image",
    "inpainting": "inpainted images show their class",
    "super-resolution": "super-resolved images show their class",
}
#: the standard LeNet is not among them: adversarial patterns aimed at a small CNN fool it too (see FOOLING)
JUDGES = (("judge accuracy", "robust-judge accuracy", True),
          ("knn accuracy", f"{KNN_K}-NN pixel accuracy", True),
          ("realism", "realism: NN distance / real's (lower better)", False),
          ("ssim", "SSIM to the ground truth", True))


def claims_table(per: pd.DataFrame, standard: str, robust: str, *, fd: Mapping | None = None, reference=None,
                 bootstrap: int = 200, rng: np.random.Generator | None = None, seed: int = 0) -> pd.DataFrame:
    """One claim row per task and judge: robust minus standard with its paired 95% interval over the same images.

    ``fd`` ({(task, model): (evaluator features, targets)}) with the ``reference`` adds a Fréchet-distance row
    per task (paired bootstrap, see :func:`_paired_fd`).
    """
    rng = rng if rng is not None else np.random.default_rng(seed)
    rows = []
    for task, text in CLAIMS.items():
        t = per[per["task"] == task]
        a, b = t[t["model"] == standard].sort_values("image"), t[t["model"] == robust].sort_values("image")
        if a.empty or b.empty:
            continue
        for col, label, higher in JUDGES:
            if col not in t or a[col].isna().all():
                continue
            diff, lo, hi = paired_interval(b[col].to_numpy(), a[col].to_numpy())
            rows.append(claim(f"{task}: {text}", label, float(a[col].mean()), float(b[col].mean()), lo, hi,
                              higher_is_better=higher, robust_label=robust, standard_label=standard))
        if fd is not None and (task, standard) in fd and (task, robust) in fd:
            (fs, ys), (fr, _) = fd[(task, standard)], fd[(task, robust)]
            std_fd, rob_fd, lo, hi = _paired_fd(fs, fr, ys, reference, bootstrap, rng, seed)
            rows.append(claim(f"{task}: {text}", FD_LABEL, std_fd, rob_fd,
                              lo, hi, higher_is_better=False, robust_label=robust, standard_label=standard))
    return pd.DataFrame(rows)


FD_LABEL = "Fréchet distance, pixel-space PCA (lower better)"
FOOLING = "How often the outputs fool a standard network"
FOOLING_TEXT = ("The fooling table gives, per task and model, the share of outputs that the standard network (never "
                "used to generate) labels as requested, beside the robust judge and the pixel k-NN: a high network "
                "share with low judge and k-NN shares is a pattern that fools networks, not a picture.")


def fooling_table(per: pd.DataFrame) -> pd.DataFrame:
    """Per task and model: the standard network's, the robust judge's and the k-NN's share labelled as requested."""
    cols = {"evaluator accuracy": "standard network", "judge accuracy": "robust judge", "knn accuracy": "pixel k-NN"}
    have = [c for c in cols if c in per]
    t = per.dropna(subset=have[:1]).groupby(["task", "model"], sort=False)[have].mean()
    return t.rename(columns=cols)


def _paired_fd(fs: torch.Tensor, fr: torch.Tensor, targets: torch.Tensor, reference, bootstrap: int,
               rng: np.random.Generator, seed: int) -> tuple[float, float, float, float]:
    """Both models' Fréchet distances and the difference's interval: ± 1.96 sd of the difference over bootstrap
    resamples of the images that draw the same indices for both models (paired)."""
    std_fd, rob_fd = reference.frechet(fs, targets, seed=seed), reference.frechet(fr, targets, seed=seed)
    real = reference.projection(reference.features[reference.sample_like(targets, seed=seed)].numpy())
    ps, pr = reference.projection(fs.numpy()), reference.projection(fr.numpy())
    diffs = []
    for _ in range(bootstrap):
        i = rng.integers(0, len(ps), len(ps))
        diffs.append(frechet_distance(pr[i], real) - frechet_distance(ps[i], real))
    half = 1.96 * float(np.std(diffs, ddof=1))
    return std_fd, rob_fd, rob_fd - std_fd - half, rob_fd - std_fd + half


def _fit_and_bank(train, test, n_ref: int, split: int, s: GenerationSettings, *, separate: bool):
    """(images the class seeds are fitted on, the pixel judges' bank images and labels).

    With a training split separate from ``data``, its last ``knn_bank`` images are held out for the judges and
    the seeds are fitted on the rest; without one, the bank is the second half of the real reference and the
    seeds are fitted on the images before it.
    """
    if separate:
        hold = min(s.knn_bank, len(train) // 2)
        cut = len(train) - hold
        fit = ImageTensorDataset(train.images[:cut], train.targets[:cut], train.info)
        bank, where = (train.images[cut:], train.targets[cut:]), f"the last {hold} images of the training data"
    else:
        half = split + max(2, n_ref // 2)
        fit = ImageTensorDataset(test.images[:half], test.targets[:half], test.info)
        bank = test.images[half:split + n_ref], test.targets[half:split + n_ref]
        where = f"the second half of the real reference, {len(bank[1])} images"
    _check_classes(fit.targets, test.targets[:split], bank[1], test.targets[split:split + max(2, n_ref // 2)],
                   where, s, separate=separate)
    return fit, *bank


def _check_classes(fit_labels, input_labels, bank_labels, real_labels, where: str, s: GenerationSettings, *,
                   separate: bool) -> None:
    """Before any work: the pixel judges' bank and the real reference hold every class the tasks aim at."""
    def names(t: torch.Tensor) -> set[int]:
        return set(t.unique().tolist())

    needed = names(input_labels) | (names(fit_labels) if "class-generation" in s.tasks else set())
    bank, real = names(bank_labels), names(real_labels)
    missing_bank, missing_real = sorted((needed | real) - bank), sorted((needed | bank) - real)
    if not missing_bank and not missing_real:
        return
    what, fix = [], []
    more = (f"give more images of every class, in mixed class order (an imagefolder: spec interleaves the classes; "
            f"a tensors: file sorted by class does not), or lower n (now {s.n}) or raise reference_size (now "
            f"{s.reference_size}) so that more of them form the reference")
    if missing_bank:
        what.append(f"the pixel judges' bank ({where}) has no image of class(es) {missing_bank}")
        fix.append(f"give train_data whose last {len(bank_labels)} images hold every class (shuffle one sorted by "
                   "class)" if separate else f"{more}; or give train_data=SPEC for the seeds and the bank")
    if missing_real:
        what.append(f"the real reference (the data's images after the first {len(input_labels)}) has none of "
                    f"class(es) {missing_real}")
        if not fix or separate:
            fix.append(more)
    raise InputError(f"generation needs real images of every class its tasks aim at ({sorted(needed)}), and "
                     f"{'; '.join(what)}. Fix: {'; '.join(fix)}")


def compare(models: Mapping[str, nn.Module | str], data="fashion-mnist", *, device=None, progress: bool = True,
            seed: int = 0, **settings) -> Result:
    """Class generation, inpainting, super-resolution, translation, sketch-to-image, inversion and feature
    visualisation with each model from the same seeds, judged by three instruments that generated nothing.

    ``data`` supplies the task inputs (its first images) and the real reference (its later images); class seeds
    are fitted on ``train_data`` less its last ``knn_bank`` images, which the pixel judges keep. Judges: an
    independent network (accuracy, noised accuracy, Fréchet distance), a k-NN classifier in pixel space and a
    realism score (nearest same-class bank image, relative to real test images'). Intervals: Student-t over
    images; bootstrap for the Fréchet distance (estimate ± 1.96 bootstrap standard deviations). ``claims``:
    robust minus standard per task and judge, paired over the same images.

    Examples
    --------
    >>> # skipped when run as a doctest: it fetches (or trains) two zoo models and runs every task (minutes)
    >>> result = compare({"standard": "zoo:fashion-mnist/small-cnn/standard",
    ...                   "robust": "zoo:fashion-mnist/small-cnn/linf-0.1"}, "fashion-mnist?n=200")  # doctest: +SKIP
    """
    s = GenerationSettings.from_mapping(settings)
    with prepare("generation", models, data, settings=s, device=device, seed=seed, progress=progress,
                 classifiers=True) as run:
        return _generate(run, data)


def _generate(run: Run, data) -> Result:
    s, named, test, seed, device, progress = run.settings, run.models, run.data, run.seed, run.device, run.progress
    train = _train_split(data, s, test)
    separate = train is not test
    n_ref = min(s.reference_size, len(test) - s.n)
    if n_ref < 2:
        raise SettingsError(f"the data has {len(test)} images: too few for n={s.n} task inputs plus a real reference "
                            "(lower n or pass more images)")
    split = len(test) - n_ref if len(test) < 5000 + n_ref else 5000
    rest = split + balanced_inputs(test.images[split:], test.targets[split:], len(test) - split, seed)
    order = torch.cat([torch.arange(split), rest])  # the real reference: classes interleaved, so any prefix has all
    test = ImageTensorDataset(test.images[order], test.targets[order], test.info)
    n_ref = min(n_ref, len(test) - split)
    fit, bank, bank_labels = _fit_and_bank(train, test, n_ref, split, s, separate=separate)
    per_class, classes, n_units = seed_counts(s, test.info.num_classes)
    factor = steps_factor(s, test.images.shape[-1])
    cfg = ShowcaseConfig(per_class=per_class, classes=classes, n_inputs=s.n, n_units=n_units,
                         seed_resolution=s.seed_resolution,
                         sr_factor=s.sr_factor, mask_size=s.mask_size, lam=s.lam,
                         confidence=s.confidence or None, tasks=tuple(s.tasks), reference_split=split,
                         reference_size=n_ref, seed=seed, translation=_translation(test.info.num_classes),
                         budgets=parse_budgets(s.budget, for_images(test.images[0].numel())))
    if factor != 1.0:
        cfg = cfg.scaled_steps(factor)
    real_half = slice(split, split + max(2, n_ref // 2))
    pixels = PixelJudge(bank, bank_labels, test.images[real_half], test.targets[real_half],
                        k=min(KNN_K, len(bank)))
    rng = run.rng
    evaluator, about = _evaluator(s, train, named, seed)
    robust_judge, judge_about = _robust_judge(s, train)
    if robust_judge is not None:
        for m in named.values():
            robust_judge.check_independent(m)
    pixel_reference = PixelReference(test.images[split:split + n_ref], test.targets[split:split + n_ref])
    judges = [evaluator] + ([robust_judge.model] if robust_judge is not None else [])
    with preserved(judges):
        for m in judges:
            m.to(device).eval()
        reference = real_reference(evaluator, test, cfg)
        with batches_by(run.map):  # every task's descent in the runner's bounded chunks, shared out over processes
            out = run_showcase(named, evaluator, fit, test, config=cfg, progress=progress and run.is_main,
                               reference=reference)
        judge = Evaluator(evaluator)
        rows, per, fd_features = [], [], {}
        for task, results in out.results.items():
            for label, r in results.items():
                a, b = _measure(task, label, r, judge, robust_judge, pixels, pixel_reference, s, rng, seed,
                                fd_features)
                rows += a
                per.append(b)
    table = pd.DataFrame(rows)
    per = pd.concat(per, ignore_index=True)
    _add_pixel_columns(out, pixels, test.images[real_half], test.targets[real_half])
    figures, captions = _figures(out, test.info.class_names) if s.figures else ({}, {})
    if s.sweep:
        path = SHIPPED if s.sweep == "shipped" else Path(s.sweep)
        command = COMMAND if s.sweep == "shipped" else f"python -m optimist.generation.sweep --out {path}"
        figures["sweep"] = sweep_figure(pd.read_csv(path), command)
        captions["sweep"] = (f"Saved numbers measured by `{command}`, not this run: each task's judges against the L2 "
                             "radius (or step size), one line per model and step count (dashed: standard); look "
                             "for where the robust lines pull away from the standard ones, which is where the "
                             "defaults sit.")
    names = list(named)
    extra = {"All measures, with the seeds and real images as references": out.table.set_index(["task",
                                                                                                  "generator"])}
    pair = claim_pair(named)
    claims = claims_table(per, *pair, fd=fd_features, reference=pixel_reference, bootstrap=s.bootstrap, rng=rng,
                          seed=seed) if pair else pd.DataFrame()
    if "evaluator accuracy" in per and per["evaluator accuracy"].notna().any():
        extra[FOOLING] = fooling_table(per)
    if len(names) > 1:
        gains = improvement_summary(out.table, names[-1], names[0])
        if not gains.empty:
            extra[f"{names[-1]} minus {names[0]}"] = gains
    text = (f"A classifier can generate: every task runs core's PGD engine on the classifier's own objective, from "
            f"the same seeds for every model (Santurkar et al. 2019; Engstrom et al. 2019). Three judges, none of "
            f"which generated: a robust network, {judge_about} (accuracy: adversarial patterns aimed at the "
            f"generator do not buy its verdict); a standard network, {about} (accuracy, which such patterns do "
            f"fool, reported apart as the fooling rate; noised accuracy under Gaussian pixel noise, sigma "
            f"{NOISE_SIGMA}, {NOISE_DRAWS} draws); the Fréchet distance to real images of the same classes in a "
            f"pixel-space PCA ({pixel_reference.projection.components.shape[0]} components fitted on real "
            f"images; no network's features, lower is better); a {KNN_K}-nearest-neighbour "
            f"classifier on raw pixels of {len(bank)} held-out real images (knn accuracy); and realism, the "
            "distance to the nearest of those images of the target class divided by the median of that distance "
            "for real test images (about 1 for real images, lower is better). The 'real images' rows are the "
            "floor. A high network accuracy with a poor k-NN accuracy and realism means a pattern that fools "
            "networks, not a picture. " + FOOLING_TEXT)
    record = run.record
    record.update(per_class=per_class, classes=classes, n_units=n_units, steps_factor=factor)
    record["evaluator"] = about
    record["robust_judge"] = judge_about
    record["frechet_space"] = "pixel-space PCA"
    record["budgets"] = {t: b.to_dict() for t, b in cfg.budgets.items() if t in cfg.tasks}
    return Result("generation", table, per, figures, captions, record, text, extra, claims=claims)


def _add_pixel_columns(out, pixels: PixelJudge, real: torch.Tensor, real_labels: torch.Tensor) -> None:
    """k-NN accuracy and realism for every row of the showcase table: seeds, each model, real images."""
    knn, realism = [], []
    real_row = (pixels.knn_correct(real, real_labels).mean(), pixels.realism(real, real_labels).mean())
    for _, row in out.table.iterrows():
        results = out.results.get(row["task"], {})
        first = next(iter(results.values()), None)
        if first is None or first.targets is None or len(first.targets) < 2:
            knn.append(np.nan)
            realism.append(np.nan)
        elif row["generator"] == "real images":
            knn.append(real_row[0])
            realism.append(real_row[1])
        else:
            x = first.seeds if row["generator"] == "seed (no PGD)" else results[row["generator"]].images
            knn.append(pixels.knn_correct(x, first.targets).mean())
            realism.append(pixels.realism(x, first.targets).mean())
    out.table["knn accuracy"] = knn
    out.table["realism"] = realism


def _translation(num_classes: int) -> dict[int, int]:
    if num_classes == 10:
        return dict(FMNIST_TRANSLATION)
    return {k: (k + 1) % num_classes for k in range(num_classes)}


#: per task: the one sentence that says what to look for in its grid
LOOK_FOR = {
    "class-generation": "from the same blurred 4x4 seeds, look for garments of the column's class in the robust "
                        "rows and high-frequency noise in the standard one",
    "inpainting": "look at the grey square: the robust rows continue the garment into it, the standard one "
                  "leaves it grey or speckled",
    "super-resolution": "compare with the blurred seed: the robust rows sharpen edges toward the ground truth, "
                        "the standard one adds speckle",
    "translation": "look for the target class (second line of the title) drawn over the source garment in the "
                   "robust rows",
    "sketch-to-image": "from white outlines, the robust rows fill in a solid garment, the standard one adds noise",
    "inversion": "from noise, the robust rows redraw the ground-truth garment, the standard one produces texture",
    "feature-visualisation": "look for a localised, shape-like pattern added by the robust rows and diffuse "
                             "speckle by the standard one",
}


def _figures(out, class_names):
    figures = {"overview": overview(out.results, class_names, n=6)}
    captions = {"overview": "Every task from the same seeds (first row), one row per model (standard first), then "
                            "the ground truth: look for garments you can name in the robust rows and noise in "
                            "the standard one."}
    for task, results in out.results.items():
        figures[task] = task_grid(results, class_names, n=10, title=task)
        captions[task] = f"{task}: " + LOOK_FOR.get(task, "seeds, then each model's output, then the ground truth") \
            + "."
    return figures, captions


__all__ = ["GenerationSettings", "compare"]
