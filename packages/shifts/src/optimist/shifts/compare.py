"""``compare``: robust vs standard under distribution shift (corruptions, bands, mCE, Fourier heat maps).

Every model sees the same corrupted images (the first ``n`` of the data, each corruption drawn once for the
seed and rounded to 1/255 as the published sets store them), so differences between models are paired over
images. The images are worked on in chunks of ``run.batch_size`` (``run.map``: shared out over torchrun's
processes and gathered in order): a chunk's corrupted copies are made from the chunk's own seed, classified by
every model, measured for their frequency bands and dropped, so memory does not grow with ``n`` and one process
or several give the same table.

Corruption error follows Hendrycks & Dietterich: CE_c = sum_s E(c, s) / sum_s E_base(c, s) with the standard
model as the baseline, relative CE subtracts each model's clean error first, mCE averages over corruptions; their
intervals come from a paired bootstrap over images.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from optimist.core.application import (
    SMALL_SIDE,
    Chunk,
    Result,
    Run,
    claim,
    claim_pair,
    prepare,
)
from optimist.core.errors import SettingsError
from optimist.core.paths import optimist_home
from optimist.core.runtime import predict
from optimist.core.settings import Settings, setting
from optimist.core.stats import paired_interval, proportion_interval, t_interval
from optimist.shifts import figures
from optimist.shifts.corruptions import corruption_names
from optimist.shifts.data import VERSION, _save_npy, from_uint8, severity_stack, to_uint8
from optimist.shifts.fourier import (
    BANDS,
    band_of,
    band_powers,
    band_shares,
    dominant_band,
    heatmap_correct,
    heatmap_from_correct,
)


@dataclass(frozen=True)
class ShiftsSettings(Settings):
    n: int = setting(1000, "test images corrupted and classified (the first n of the data)", minimum=1)
    corruptions: tuple[str, ...] = setting((), "corruptions to run (empty: all 21)",
                                           choices=corruption_names())
    severities: tuple[int, ...] = setting((1, 2, 3, 4, 5), "severities to run (1..5)", minimum=1, maximum=5)
    baseline: str = setting("", "label of the model corruption errors are relative to (default: 'standard', "
                                "else the first model)")
    band_images: int = setting(500, "images used to measure each corruption's frequency band", minimum=1)
    band_severity: int = setting(3, "severity at which the bands are measured", minimum=1, maximum=5)
    heatmap_n: int = setting(200, "test images for the Fourier heat maps (0: no heat maps)", minimum=0)
    heatmap_eps: float = setting(6.0, "L2 norm of the Fourier basis perturbation", minimum=0.0)
    heatmap_stride: int | None = setting(None, "evaluate every k-th frequency in each direction (default: "
                                                  "every one up to 32x32 images, at most 32 per direction above)",
                                            minimum=1)
    bootstrap: int = setting(200, "paired bootstrap resamples over images for CE / mCE intervals", minimum=10)
    example: int = setting(0, "index of the image shown in the examples figure", minimum=0)
    cache: bool = setting(True, "keep corrupted images under $OPTIMIST_HOME/shifts (uint8) for reruns")
    batch_size: int | None = setting(None, "images per batch (default: chosen from the models and the image size "
                                           "to bound memory)", minimum=1)

    def validate(self) -> None:
        if len(set(self.severities)) != len(self.severities) or not self.severities:
            raise SettingsError(f"setting 'severities' must list distinct severities in 1..5, got {self.severities}")
        if self.heatmap_n and self.heatmap_eps <= 0:
            raise SettingsError("setting 'heatmap_eps' must be > 0 when heat maps are on")


def _stack(x: torch.Tensor, name: str, seed: int, cache: bool) -> torch.Tensor:
    """(5, N, C, H, W) corrupted copies of ``x`` (rounded to 1/255), from the cache when it holds them (one file
    per chunk of images: the key is the images, the seed, the shape and the corruptions' version)."""
    if not cache:
        return severity_stack(x, name, seed=seed)
    h = hashlib.sha1(to_uint8(x).tobytes())
    h.update(f"{tuple(x.shape)}|{seed}|{VERSION}".encode())
    path = optimist_home() / "shifts" / "stacks" / h.hexdigest()[:20] / f"{name}.npy"
    if path.exists():
        try:
            arr = np.load(path)
            return from_uint8(arr).reshape(5, *x.shape)
        except (ValueError, OSError):
            pass
    stack = severity_stack(x, name, seed=seed)
    _save_npy(Path(path), to_uint8(stack.reshape(-1, *x.shape[1:])))
    return stack


def _baseline(labels: list[str], wanted: str) -> str:
    if wanted:
        if wanted not in labels:
            raise SettingsError(f"setting 'baseline' must be one of the model labels {labels}, got {wanted!r}")
        return wanted
    for lab in labels:
        if "standard" in lab.lower():
            return lab
    return labels[0]


def _nan_mean(a, axis=None):
    """``np.nanmean`` that gives NaN without a warning where every value is NaN (a CE the baseline left undefined)."""
    a = np.asarray(a, dtype=float)
    count = (~np.isnan(a)).sum(axis=axis)
    total = np.where(np.isnan(a), 0.0, a).sum(axis=axis)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _nan_percentile(a, q):
    """``np.nanpercentile`` that gives NaNs without a warning where every value is NaN."""
    a = np.asarray(a, dtype=float)
    return np.nanpercentile(a, q) if not np.isnan(a).all() else np.full(len(q), np.nan)


def _ce(err: np.ndarray, base: np.ndarray, clean: np.ndarray, base_clean: np.ndarray) -> tuple[float, float]:
    """CE and relative CE of one corruption from per-severity error rates."""
    ce = err.sum() / base.sum() if base.sum() > 0 else math.nan
    den = (base - base_clean).sum()
    rel = (err - clean).sum() / den if den > 0 else math.nan
    return float(ce), float(rel)


def compare(models: Mapping[str, nn.Module | str], data, *, device=None, progress: bool = True, seed: int = 0,
            **settings) -> Result:
    """Accuracy under every corruption and severity, CE / mCE, per-band summaries and Fourier heat maps.

    Settings: see :class:`ShiftsSettings` (``n``, ``corruptions``, ``severities``, ``baseline``, ``heatmap_n``,
    ``heatmap_eps``, ``heatmap_stride``, ...).

    Examples
    --------
    >>> # skipped when run as a doctest: it fetches (or trains) two zoo models and corrupts 200 images (minutes)
    >>> result = compare({"standard": "zoo:fashion-mnist/small-cnn/standard",
    ...                   "robust": "zoo:fashion-mnist/small-cnn/linf-0.1"}, "fashion-mnist?n=200")  # doctest: +SKIP
    """
    s = ShiftsSettings.from_mapping(settings)
    with prepare("shifts", models, data, settings=s, device=device, seed=seed, progress=progress) as run:
        return _shift(run)


def heatmap_stride(s: ShiftsSettings, side: int) -> int:
    """The setting's stride, else every frequency up to 32x32 images and at most 32 per direction above, so that a
    heat map costs a fixed number of forward passes per image whatever the image size (7 at 224x224).

    >>> heatmap_stride(ShiftsSettings(), 28), heatmap_stride(ShiftsSettings(), 224)
    (1, 7)
    """
    return s.heatmap_stride or max(1, math.ceil(side / SMALL_SIDE))


def _clean_of(models: Mapping[str, nn.Module], batch: int, chunk: Chunk, x: torch.Tensor,
              y: torch.Tensor) -> dict[str, torch.Tensor]:
    """One chunk: which images each model classifies correctly."""
    return {m: predict(model, x, batch_size=batch).cpu() == y.cpu() for m, model in models.items()}


def _corrupted_of(models: Mapping[str, nn.Module], name: str, sevs: list[int], band_severity: int, example: int,
                  cache: bool, batch: int, chunk: Chunk, x: torch.Tensor, y: torch.Tensor) -> dict:
    """One chunk under corruption ``name``: its five severities made from the chunk's seed, then per image which
    model is right at each of ``sevs`` ``(b, S)``, the power of the change at ``band_severity``
    (:func:`band_powers`) and, in the chunk holding image ``example``, its five corrupted copies."""
    stack = _stack(x, name, chunk.seed, cache)  # (5, b, C, H, W): made, used and dropped here
    right = {m: torch.stack([predict(model, stack[sv - 1], batch_size=batch).cpu() == y.cpu() for sv in sevs], 1)
             for m, model in models.items()}
    shown = [stack[:, example - chunk.start].clone()] if chunk.start <= example < chunk.stop else []
    return {"correct": right, "powers": band_powers(x, stack[band_severity - 1]), "example": shown}


def _heat_of(models: Mapping[str, nn.Module], eps: float, stride: int, batch: int, progress: bool, chunk: Chunk,
             x: torch.Tensor, y: torch.Tensor) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """One chunk of the heat-map images: per model, per image, right on the clean image and under each frequency
    (the signs drawn from the chunk's seed, the same for every model; ``batch`` perturbed copies at a time)."""
    return {m: heatmap_correct(model, x, y, eps, stride=stride, seed=chunk.seed, batch_size=batch,
                               progress=progress)
            for m, model in models.items()}


def _shift(run: Run) -> Result:
    s, models, data, seed, progress = run.settings, run.models, run.data, run.seed, run.progress
    labels = run.labels
    base = _baseline(labels, s.baseline)
    pair = claim_pair(models)
    pair = (base, pair[1]) if pair is not None and pair[1] != base else None
    claims: list[dict] = []
    names = list(s.corruptions or corruption_names())
    sevs = sorted(s.severities)
    n = min(s.n, len(data))
    x, y = data.images[:n], data.targets[:n]
    ex = min(s.example, n - 1)
    stride = heatmap_stride(s, x.shape[-1])

    # per-image work, in chunks of run.batch_size images shared out over the processes and gathered in order
    clean = {m: v.numpy() for m, v in run.map(partial(_clean_of, models, run.batch_size), x, y,
                                              desc="clean").items()}
    correct = {m: {} for m in labels}  # model -> corruption -> (S, N) bool
    examples, bands = {}, []
    k = min(s.band_images, n)
    for name in tqdm(names, desc="corruptions", leave=False, disable=not progress or not run.is_main):
        out = run.map(partial(_corrupted_of, models, name, sevs, s.band_severity, ex, s.cache, run.batch_size),
                      x, y, desc=name)
        examples[name] = out["example"][0]
        e = band_shares(out["powers"][:k])  # the first k images' power, summed over the chunks
        bands.append({"corruption": name, **e, "band": dominant_band(e)})  # "none": it changed none of them
        for m in labels:
            correct[m][name] = out["correct"][m].numpy().T
    heat = {}
    if s.heatmap_n:
        k = min(s.heatmap_n, n)
        h, w = x.shape[-2:]
        rows_of = run.map(partial(_heat_of, models, s.heatmap_eps, stride, run.batch_size, progress and run.is_main),
                          x[:k], y[:k], desc="heat maps")
        for m in labels:
            heat[m] = heatmap_from_correct(*rows_of[m], h, w, eps=s.heatmap_eps, stride=stride)

    band_df = pd.DataFrame(bands)
    band_of_c = dict(zip(band_df.corruption, band_df.band))
    rows: list[dict] = []

    def add(model, measurement, v, lo, hi, count, **extra):
        rows.append({"model": model, "measurement": measurement, "value": v, "low": lo, "high": hi, "n": count,
                     **extra})

    for m in labels:
        add(m, "clean accuracy", *proportion_interval(clean[m].astype(float)), n)
    for m in labels:
        for name in names:
            for i, sv in enumerate(sevs):
                add(m, "accuracy", *proportion_interval(correct[m][name][i].astype(float)), n, corruption=name,
                    severity=sv,
                    band=band_of_c[name])
    for m in labels:
        for name in names:
            add(m, "accuracy (mean over severities)", *t_interval(correct[m][name].mean(0)), n, corruption=name,
                band=band_of_c[name])
        allc = np.stack([correct[m][c].mean(0) for c in names]).mean(0)
        add(m, "mean corruption accuracy", *t_interval(allc), n)
        for b in BANDS:
            cs = [c for c in names if band_of_c[c] == b]
            if cs:
                per = np.stack([correct[m][c].mean(0) for c in cs]).mean(0)
                add(m, "band accuracy", *t_interval(per), n, band=b, corruptions=len(cs))

    # CE / relative CE / mCE with a paired bootstrap over images
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(s.bootstrap, n))
    err = {m: np.stack([1 - correct[m][c] for c in names]).astype(np.float32) for m in labels}  # (C, S, N)
    cerr = {m: (1 - clean[m]).astype(np.float32) for m in labels}

    def rates(m, sel=None):
        e = err[m] if sel is None else err[m][:, :, sel]
        ce = cerr[m] if sel is None else cerr[m][sel]
        return e.mean(-1), ce.mean(-1)  # (C, S) [or (C, S, B)], () [or (B,)]

    boot = {m: (err[m][:, :, idx].mean(-1), cerr[m][idx].mean(-1)) for m in labels}  # (C,S,B), (B,)
    ce_rows = []
    for m in labels:
        e, ce0 = rates(m)
        be, bce0 = rates(base)
        ces = [_ce(e[i], be[i], ce0, bce0) for i in range(len(names))]
        eb, ceb = boot[m]
        beb, bceb = boot[base]
        ce_b = eb.sum(1) / np.where(beb.sum(1) > 0, beb.sum(1), np.nan)  # (C, B)
        den = (beb - bceb[None, None]).sum(1)
        rel_b = (eb - ceb[None, None]).sum(1) / np.where(den > 0, den, np.nan)
        for i, name in enumerate(names):
            lo, hi = _nan_percentile(ce_b[i], [2.5, 97.5]) if m != base else (1.0, 1.0)
            add(m, "CE", ces[i][0], float(lo), float(hi), n, corruption=name, band=band_of_c[name])
            rlo, rhi = _nan_percentile(rel_b[i], [2.5, 97.5]) if m != base else (1.0, 1.0)
            add(m, "relative CE", ces[i][1], float(rlo), float(rhi), n, corruption=name, band=band_of_c[name])
            ce_rows.append({"model": m, "corruption": name, "CE": ces[i][0], "relative CE": ces[i][1]})
        mce = float(_nan_mean([c[0] for c in ces]))
        rmce = float(_nan_mean([c[1] for c in ces]))
        mlo, mhi = _nan_percentile(_nan_mean(ce_b, 0), [2.5, 97.5]) if m != base else (1.0, 1.0)
        rlo, rhi = _nan_percentile(_nan_mean(rel_b, 0), [2.5, 97.5]) if m != base else (1.0, 1.0)
        add(m, "mCE", mce, float(mlo), float(mhi), n)
        add(m, "relative mCE", rmce, float(rlo), float(rhi), n)

    # paired differences vs the baseline
    diff_rows = []
    for m in labels:
        if m == base:
            continue
        tag = f"{m} − {base}"
        v, lo, hi = paired_interval(clean[m], clean[base])
        diff_rows.append({"comparison": tag, "corruption": "clean", "band": "", "difference": v, "low": lo,
                          "high": hi})
        add(m, f"accuracy difference vs {base}", v, lo, hi, n, corruption="clean")
        for name in names:
            v, lo, hi = paired_interval(correct[m][name].mean(0), correct[base][name].mean(0))
            diff_rows.append({"comparison": tag, "corruption": name, "band": band_of_c[name], "difference": v,
                              "low": lo, "high": hi,
                              "mean frequency": float(band_df.set_index("corruption").mean_frequency[name])})
            add(m, f"accuracy difference vs {base}", v, lo, hi, n, corruption=name, band=band_of_c[name])
        for b in BANDS:
            cs = [c for c in names if band_of_c[c] == b]
            if not cs:
                continue
            a = np.stack([correct[m][c].mean(0) for c in cs]).mean(0)
            r = np.stack([correct[base][c].mean(0) for c in cs]).mean(0)
            v, lo, hi = paired_interval(a, r)
            add(m, f"band accuracy difference vs {base}", v, lo, hi, n, band=b, corruptions=len(cs))
            if pair is not None and (base, m) == pair and b in _BAND_CLAIMS:
                text, higher = _BAND_CLAIMS[b]
                claims.append(claim(text, f"mean accuracy over {b}-frequency corruptions ({len(cs)})",
                                    float(r.mean()), float(a.mean()), lo, hi, higher_is_better=higher,
                                    robust_label=m, standard_label=base))

    # heat maps: mean error per band, per model, with intervals over images
    hm_rows = []
    if heat:
        h, w = x.shape[-2:]
        for m in labels:
            hm = heat[m]
            for b_i, b in enumerate(BANDS):
                keys = [(u, v) for (u, v) in hm["correct"]
                        if band_of(math.hypot(u / h, v / w)) == b_i]
                if not keys:
                    continue
                per = 1 - np.stack([hm["correct"][k] for k in keys]).mean(0)
                v, lo, hi = t_interval(per)
                add(m, "heat-map error", v, lo, hi, len(per), band=b, frequencies=len(keys))
                hm_rows.append({"model": m, "band": b, "error": v, "low": lo, "high": hi, "frequencies": len(keys)})
            v, lo, hi = t_interval(1 - hm["clean_correct"].astype(float))
            add(m, "heat-map clean error", v, lo, hi, len(hm["clean_correct"]))

    table = pd.DataFrame(rows)
    undefined = table["value"].isna()
    dropped = sorted(set(table.loc[undefined, "measurement"]))
    table = table[~undefined].reset_index(drop=True)  # e.g. relative CE when the baseline lost no accuracy
    per_example = []
    for m in labels:
        per_example.append(pd.DataFrame({"model": m, "corruption": "clean", "severity": 0, "image": np.arange(n),
                                         "correct": clean[m].astype(int)}))
        for name in names:
            for i, sv in enumerate(sevs):
                per_example.append(pd.DataFrame({"model": m, "corruption": name, "severity": sv,
                                                 "image": np.arange(n), "correct": correct[m][name][i].astype(int)}))
    per_example = pd.concat(per_example, ignore_index=True)

    figs = {"examples": figures.plot_examples(x[ex], examples, band_of_c, sevs=(1, 2, 3, 4, 5)),
            "per-corruption accuracy": figures.plot_bars(table, labels, names, band_of_c)}
    captions = {
        "examples": "One test image under every corruption at severities 1-5 (column label: the measured band); "
                    "look at which changes are fine-grained (noise, JPEG) and which are global (fog, contrast).",
        "per-corruption accuracy": "Accuracy averaged over severities, per corruption, grouped by measured band "
                                   "(95% intervals over images); where the robust bar is higher, adversarial "
                                   "training helped.",
    }
    if heat:
        figs["fourier heat maps"] = figures.plot_heatmaps(heat, labels, base)
        captions["fourier heat maps"] = (
            f"Error rate when a Fourier basis image of L2 norm {s.heatmap_eps:g} is added (centre: lowest "
            "frequency); Yin et al.'s pattern is a robust model less sensitive at high frequencies (outer ring) and "
            "more at low ones (centre): look at the sign of the difference panel by ring.")

    ce_table = pd.DataFrame(ce_rows).pivot(index="corruption", columns="model", values="CE").reindex(names)
    ce_table.insert(0, "band", [band_of_c[c] for c in names])
    extra = {"Measured frequency bands (share of the power of corrupted − clean)": band_df.round(4),
             "Corruption error (CE) relative to " + base: ce_table.round(3)}
    if diff_rows:
        extra["Accuracy difference vs " + base + " (paired over images, mean over severities)"] = \
            pd.DataFrame(diff_rows).round(4)
    if hm_rows:
        extra["Heat-map error by band"] = pd.DataFrame(hm_rows).round(4)

    text = _summary(table, labels, base, names, band_of_c, heat)
    if dropped:
        text += (f" Undefined and left out for some corruptions: {', '.join(dropped)} (the baseline's error under "
                 "the corruption equals its clean error, so the ratio has no denominator).")
    run.record["heatmap_stride"] = stride
    return Result(application="shifts", table=table, per_example=per_example, figures=figs, captions=captions,
                  settings=run.record, text=text,
                  extra_tables=extra, claims=pd.DataFrame(claims))


_BAND_CLAIMS = {  # Yin et al. 2019: adversarial training helps against high-frequency corruptions, hurts low
    "high": ("Adversarial training improves accuracy under high-frequency corruptions (Yin et al.)", True),
    "low": ("... and lowers it under low-frequency corruptions such as fog and contrast (Yin et al.)", False),
}


def _summary(table, labels, base, names, band_of_c, heat) -> str:
    t = table
    parts = []
    for m in labels:
        c = t[(t.model == m) & (t.measurement == "clean accuracy")].value.iloc[0]
        a = t[(t.model == m) & (t.measurement == "mean corruption accuracy")].value.iloc[0]
        mce = t[(t.model == m) & (t.measurement == "mCE")].value.iloc[0]
        parts.append(f"{m}: clean {c:.1%}, mean corrupted {a:.1%}, mCE {mce:.2f}")
    text = "; ".join(parts) + f" (mCE relative to {base} = 1)."
    for m in labels:
        if m == base:
            continue
        d = t[(t.model == m) & (t.measurement == f"accuracy difference vs {base}") & (t.corruption != "clean")]
        helped = d[d.low > 0].sort_values("value", ascending=False)
        hurt = d[d.high < 0].sort_values("value")
        text += (f" {m} vs {base}: helped on {len(helped)} of {len(d)} corruptions"
                 + (f" ({', '.join(f'{r.corruption} {r.value:+.1%}' for r in helped.itertuples())})" if len(helped)
                    else "")
                 + f", hurt on {len(hurt)}"
                 + (f" ({', '.join(f'{r.corruption} {r.value:+.1%}' for r in hurt.itertuples())})" if len(hurt)
                    else "")
                 + " (95% paired intervals excluding zero).")
    return text
