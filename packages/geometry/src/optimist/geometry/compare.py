"""``compare``: decision-boundary geometry of several models on the same images, in the application contract."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import partial
from typing import Mapping, Optional

import numpy as np
import pandas as pd
import torch
from torch import nn

from optimist.core.application import (
    SMALL_SIDE,
    Chunk,
    Result,
    Run,
    claim,
    claim_pair,
    prepare,
)
from optimist.core.attacks import Threat, as_threat
from optimist.core.errors import SettingsError
from optimist.core.runtime import predict
from optimist.core.settings import Settings, setting
from optimist.core.stats import proportion_interval, t_interval
from optimist.geometry.curvature import input_hessian_eigenvalue, local_linearity_gap
from optimist.geometry.figures import plot_curvature, plot_frequency_margins, plot_margin_histograms, plot_universal
from optimist.geometry.margins import MarginResult, margin_distribution
from optimist.geometry.subspace_margins import SubspaceMargins, subspace_margins
from optimist.geometry.universal import universal_perturbation


@dataclass(frozen=True)
class GeometrySettings(Settings):
    """What ``optimist.geometry.compare`` measures and on how many images."""

    n: int = setting(1200, "test images drawn (seeded); each measurement uses the first of them", minimum=2)
    n_margin: int = setting(100, "images for DeepFool margins (L2 and L-inf)", minimum=1)
    n_subspace: int = setting(40, "images for margins inside DCT blocks", minimum=1)
    block: Optional[int] = setting(None, "DCT block size for subspace margins (default: 8 up to 32x32 images, "
                                         "else a quarter of the side, so that each block keeps its share of the "
                                         "spectrum and DeepFool's steps in it do not multiply with the image)",
                                   minimum=1)
    stride: Optional[int] = setting(None, "step between DCT blocks along the diagonal (default: up to 32x32 images, "
                                          "six overlapping blocks span it, 4 at 28x28; above, four blocks tile "
                                          "it: the count, and so the cost, does not grow with the image)",
                                    minimum=1)
    n_curvature: int = setting(100, "images for the input-Hessian eigenvalue and the linearity gap", minimum=1)
    power_iters: int = setting(20, "power-iteration steps (Hessian-vector products)", minimum=1)
    gap_threat: str = setting("linf:0.1", "ball of the local-linearity gap, NORM:EPS")
    gap_steps: int = setting(10, "PGD steps maximising the linearity gap", minimum=1)
    n_universal: int = setting(200, "images the universal perturbation is fitted on (at most n/2)", minimum=1)
    universal_threat: str = setting("linf:0.1", "budget of the universal perturbation, NORM:EPS")
    universal_passes: int = setting(4, "passes over the fitting images", minimum=1)
    universal_batch: int = setting(20, "images per universal-perturbation update", minimum=1)
    universal_candidates: int = setting(5, "DeepFool candidate classes in the universal fit", minimum=1)
    num_candidates: int = setting(10, "DeepFool candidate classes for margins", minimum=1)
    bootstrap: int = setting(1000, "bootstrap resamples for the intervals of medians", minimum=100)
    batch_size: Optional[int] = setting(None, "images per batch (default: chosen from the models and the image "
                                              "size, to bound memory)", minimum=1)

    def validate(self) -> None:
        for key in ("gap_threat", "universal_threat"):
            try:
                as_threat(getattr(self, key))
            except ValueError as e:
                raise SettingsError(f"setting {key!r}: {e}") from e


def _median_ci(values: np.ndarray, rng: np.random.Generator, resamples: int) -> tuple[float, float, float]:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]  # inf (no boundary found in a DCT block) is a valid, largest margin
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    if len(v) < 2:
        return float(np.median(v)), math.nan, math.nan
    boots = np.median(rng.choice(v, size=(resamples, len(v)), replace=True), axis=1)
    return float(np.median(v)), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def _paired_median_difference(a: np.ndarray, b: np.ndarray, rng: np.random.Generator,
                              resamples: int) -> tuple[float, float, float]:
    """median(a) - median(b) over the same images, with a paired bootstrap 95% interval (images resampled);
    images where either margin is infinite (no boundary found) are left out."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if len(a) < 2:
        return math.nan, math.nan, math.nan
    idx = rng.integers(0, len(a), size=(resamples, len(a)))
    boots = np.median(a[idx], axis=1) - np.median(b[idx], axis=1)
    return float(np.median(a) - np.median(b)), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))


def _claims(pair, margins, freq, curv, fooled, rng, resamples) -> pd.DataFrame:
    if pair is None:
        return pd.DataFrame()
    std, rob = pair
    rows = []

    def median_claim(text, metric, a, b, higher):
        d, lo, hi = _paired_median_difference(a, b, rng, resamples)
        rows.append(claim(text, metric, float(np.median(b)), float(np.median(a)), lo, hi, higher_is_better=higher,
                          robust_label=rob, standard_label=std))

    median_claim("Robust models are further from their decision boundary", "median L2 DeepFool margin",
                 margins[rob]["l2"].margin.cpu().numpy(), margins[std]["l2"].margin.cpu().numpy(), True)
    median_claim("The robust margin grows most in the high frequencies", "median L2 margin, highest DCT block",
                 freq[rob].margin[-1].cpu().numpy(), freq[std].margin[-1].cpu().numpy(), True)
    median_claim("Robust models have a flatter loss in input space", "median largest input-Hessian eigenvalue",
                 curv[rob].cpu().numpy(), curv[std].cpu().numpy(), False)
    if rob in fooled and std in fooled and len(fooled[rob]):
        a, b = fooled[rob], fooled[std]
        d, lo, hi = t_interval(a - b)
        rows.append(claim("A universal perturbation fools a robust model far less often", "held-out fooling rate",
                          float(b.mean()), float(a.mean()), lo, hi, higher_is_better=False, robust_label=rob,
                          standard_label=std))
    return pd.DataFrame(rows)


def _random_fooled(model: nn.Module, x: torch.Tensor, threat: Threat, noise: torch.Tensor,
                   clean: torch.Tensor) -> torch.Tensor:
    """Which images one random point on the ball's boundary (``noise`` scaled onto it) fools: the baseline a
    universal perturbation must beat."""
    v = threat.eps * (noise.sign() if threat.norm == "linf" else noise / noise.norm())
    return predict(model, (x + v).clamp(0, 1)) != clean


def compare(models: Mapping[str, nn.Module | str], data="fashion-mnist", *, device=None, progress: bool = True,
            seed: int = 0, **settings) -> Result:
    """Margins, frequency margins, curvature and universal perturbations of each model on the same test images.

    Returns a :class:`~optimist.core.application.Result`: medians with bootstrap intervals, rates with Student-t
    intervals over images, per-image margins and curvatures, and four figures.

    Examples
    --------
    >>> # skipped when run as a doctest: it fetches (or trains) two zoo models and measures 200 images (minutes)
    >>> result = compare({"standard": "zoo:fashion-mnist/small-cnn/standard",
    ...                   "robust": "zoo:fashion-mnist/small-cnn/linf-0.1"}, "fashion-mnist?n=200")  # doctest: +SKIP
    """
    s = GeometrySettings.from_mapping(settings)
    with prepare("geometry", models, data, settings=s, device=device, seed=seed, progress=progress) as run:
        return _measure(run)


def _margins_of(model: nn.Module, s: GeometrySettings, batch: int, chunk: Chunk, xb: torch.Tensor,
                yb: torch.Tensor):
    found = margin_distribution(model, xb, norms=("l2", "linf"), num_candidates=s.num_candidates, batch_size=batch)
    return ((predict(model, xb) == yb).float(),
            {k: (r.margin, r.relative, r.success, r.predicted) for k, r in found.items()})


def _frequency_of(model: nn.Module, s: GeometrySettings, block: int, stride: int, batch: int, chunk: Chunk,
                  xb: torch.Tensor):
    found = subspace_margins(model, xb, block=block, stride=stride, num_candidates=s.num_candidates,
                             batch_size=batch)
    return found.margin.T, found.success.T, torch.tensor(found.starts).repeat(len(xb), 1)


def _curvature_of(model: nn.Module, s: GeometrySettings, batch: int, chunk: Chunk, xb: torch.Tensor):
    eig = input_hessian_eigenvalue(model, xb, None, iters=s.power_iters, seed=chunk.seed, batch_size=batch)
    return eig.eigenvalue, local_linearity_gap(model, xb, None, s.gap_threat, steps=s.gap_steps)


def _fooled_of(model: nn.Module, v: torch.Tensor, threat: Threat, noise: torch.Tensor, chunk: Chunk,
               xb: torch.Tensor):
    clean_pred = predict(model, xb)
    return (predict(model, (xb + v.to(xb)).clamp(0, 1)) != clean_pred,
            _random_fooled(model, xb, threat, noise, clean_pred))


def _blocks(s: GeometrySettings, size: int) -> tuple[int, int]:
    """(block, stride): the settings', else, up to 32x32 images, 8x8 blocks with the stride that puts six of them
    along the diagonal (8 and 4 at 28x28); above, a quarter of the side with the same stride, four blocks that
    tile the diagonal (56 and 56 at 224x224: each DeepFool step costs a large model's forward and ten backward
    passes, so the count is kept small). The last block sits at the highest frequencies."""
    small = size <= SMALL_SIDE
    block = s.block or (8 if small else size // 4)
    if block > size:
        raise SettingsError(f"setting 'block' ({block}) is larger than the images ({size}x{size})")
    return block, s.stride or (max(1, math.ceil((size - block) / 5)) if small else block)


def _measure(run: Run) -> Result:
    s, named, ds, device, seed, progress = run.settings, run.models, run.data, run.device, run.seed, run.progress
    gen, rng = run.generator, run.rng
    perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[: s.n]
    x_all, y_all = ds.images[perm].to(device), ds.targets[perm].to(device)
    n = len(perm)
    n_fit = max(1, min(s.n_universal, n // 2))
    fit, heldout = x_all[:n_fit], x_all[n_fit:]
    x_m, y_m = x_all[: s.n_margin], y_all[: s.n_margin]
    x_sub, x_curv = x_all[: s.n_subspace], x_all[: s.n_curvature]
    uthreat = as_threat(s.universal_threat)
    (block, stride), batch = _blocks(s, x_all.shape[-1]), run.batch_size
    rows, per_example, timings = [], [], {}
    margins, freq, curv, uaps, fooled_by = {}, {}, {}, {}, {}

    def add(label, measurement, values, *, median=False, rate=False):
        v, lo, hi = _median_ci(values, rng, s.bootstrap) if median else \
            proportion_interval(values) if rate else t_interval(values)
        count = int(np.isfinite(np.asarray(values, dtype=float)).sum())
        rows.append({"model": label, "measurement": measurement, "value": v, "low": lo, "high": hi, "n": count,
                     "statistic": "median" if median else "mean"})

    for label, model in named.items():
        # the per-image measurements are shared out over the processes in chunks (run.map); the universal
        # perturbation is one fit over all its images, made alike on every process
        t0 = time.perf_counter()
        correct, found = run.map(partial(_margins_of, model, s, batch), x_m, y_m, desc=f"{label}: margins")
        correct = correct.numpy()
        margins[label] = {k: MarginResult(k, *v) for k, v in found.items()}
        t1 = time.perf_counter()
        fm, fs, starts = run.map(partial(_frequency_of, model, s, block, stride, batch), x_sub,
                                 desc=f"{label}: frequency margins")
        freq[label] = SubspaceMargins(starts[0].tolist(), block, fm.T, fs.T)
        t2 = time.perf_counter()
        curv[label], gap = run.map(partial(_curvature_of, model, s, batch), x_curv, desc=f"{label}: curvature")
        t3 = time.perf_counter()
        uaps[label] = universal_perturbation(model, fit, uthreat, max_passes=s.universal_passes,
                                             batch_size=s.universal_batch, num_candidates=s.universal_candidates,
                                             deepfool_batch=batch, seed=seed, progress=progress and run.is_main)
        t4 = time.perf_counter()
        timings[label] = {"margins": t1 - t0, "frequency": t2 - t1, "curvature": t3 - t2, "universal": t4 - t3}

        l2, li = margins[label]["l2"], margins[label]["linf"]
        add(label, "clean accuracy", correct, rate=True)
        add(label, "median L2 margin", l2.margin.cpu().numpy(), median=True)
        add(label, "median Linf margin", li.margin.cpu().numpy(), median=True)
        add(label, "rho L2 (mean margin / ||x||)", l2.relative.cpu().numpy())
        fm = freq[label].margin.cpu().numpy()  # (blocks, images), lowest frequency first
        add(label, "median L2 margin, lowest DCT block", fm[0], median=True)
        add(label, "median L2 margin, highest DCT block", fm[-1], median=True)
        add(label, "median lambda_max (loss Hessian)", curv[label].cpu().numpy(), median=True)
        add(label, f"median linearity gap ({s.gap_threat})", gap.cpu().numpy(), median=True)
        if len(heldout):
            v = uaps[label].perturbation
            noise = torch.randn(heldout[:1].shape, generator=gen).to(heldout)  # one draw, alike on every process
            fooled, random_fooled = run.map(partial(_fooled_of, model, v, uthreat, noise), heldout,
                                            desc=f"{label}: fooling rates")
            fooled_by[label] = fooled.float().numpy()
            add(label, f"universal fooling rate ({s.universal_threat}, held-out)", fooled_by[label], rate=True)
            add(label, f"random-noise fooling rate ({s.universal_threat})", random_fooled.float().numpy(), rate=True)
        for i in range(len(x_m)):
            per_example.append({"model": label, "image": int(perm[i]), "correct": bool(correct[i]),
                                "l2_margin": float(l2.margin[i]), "linf_margin": float(li.margin[i]),
                                "lambda_max": float(curv[label][i]) if i < len(x_curv) else math.nan,
                                "linearity_gap": float(gap[i]) if i < len(x_curv) else math.nan})
    figures = {
        "margin-histograms": plot_margin_histograms(margins),
        "frequency-margins": plot_frequency_margins(freq),
        "curvature": plot_curvature(curv),
    }
    if len(heldout):
        figures["universal"] = plot_universal(uaps, named, heldout, list(ds.info.class_names))
    captions = {
        "margin-histograms": "DeepFool margins relative to the image norm (rho); dashed lines are medians. Look "
                             "for the robust model's distribution sitting further right.",
        "frequency-margins": f"Median L2 margin inside {block}x{block} DCT blocks along the diagonal, low "
                             "frequencies on the left ('Hold me tight!'): a standard model is close to its boundary "
                             "in the high frequencies, a robust one is not.",
        "curvature": "Largest eigenvalue of the input Hessian of the loss per image: robust models are flatter.",
        "universal": "One perturbation per model added to held-out images (prediction before -> after, red when "
                     "fooled): the robust model's perturbation looks like a garment and fools few images.",
    }
    table = pd.DataFrame(rows)
    text = (f"Decision-boundary geometry of {len(named)} model(s) on {n} images of {ds.info.name}: DeepFool margins "
            f"on {len(x_m)}, DCT-block margins on {len(x_sub)}, curvature on {len(x_curv)}; the universal "
            f"perturbation is fitted on {n_fit} images and measured on the other {len(heldout)}. Medians carry "
            f"bootstrap 95% intervals ({s.bootstrap} resamples), rates Wilson intervals, means Student-t intervals "
            "over images.")
    record = run.record
    record["seconds"] = {k: {i: round(t, 2) for i, t in v.items()} for k, v in timings.items()}
    record.update(block=block, stride=stride)
    claims = _claims(claim_pair(named), margins, freq, curv, fooled_by, rng, s.bootstrap)
    return Result("geometry", table, pd.DataFrame(per_example), figures, {k: captions[k] for k in figures},
                  record, text, claims=claims)


__all__ = ["GeometrySettings", "compare"]
