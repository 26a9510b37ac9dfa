"""Fourier analysis of shifts: where in the spectrum a corruption puts its energy, and Yin et al.'s heat maps.

- :func:`band_energy` splits the power of the change a corruption makes (corrupted - clean) into radial frequency
  bands; :func:`measure_bands` tags each corruption with the band holding most of that power. The bands, in
  cycles per pixel: low |f| < 0.1 (under about 3 cycles across a 28-pixel image), mid 0.1 <= |f| < 0.25, high
  |f| >= 0.25 (above half the Nyquist frequency); on a 28x28 grid they hold 3%, 16% and 81% of the frequencies.
  The tag is a measurement on the data at hand: the power of a change that scales the image (contrast, blur)
  follows the image's own spectrum, which for Fashion-MNIST sits mostly in the low band.
- :func:`fourier_basis` is the real 2-D Fourier basis image of unit L2 norm at frequency (u, v), and
  :func:`fourier_heatmap` is Yin et al.'s heat map: the error rate when ``r * eps * U(u, v)`` (r a random sign per
  image and channel) is added to the test images, for every frequency.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from optimist.core.checks import check_labels, check_model_input
from optimist.core.errors import InputError
from optimist.core.runtime import evaluating, model_device
from optimist.shifts.corruptions import corrupt, corruption_names

BANDS = ("low", "mid", "high")
BAND_EDGES = (0.1, 0.25)  # cycles per pixel


def radial_frequency(h: int, w: int) -> np.ndarray:
    """|f| in cycles per pixel of every bin of an unshifted (h, w) FFT."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    return np.sqrt(fx ** 2 + fy ** 2)


def band_of(frequency: np.ndarray | float) -> np.ndarray:
    """Band index (0 low, 1 mid, 2 high) of radial frequencies."""
    return np.digitize(frequency, BAND_EDGES)


def band_energy(clean: torch.Tensor, corrupted: torch.Tensor) -> dict[str, float]:
    """Share of the power of ``corrupted - clean`` in each band, and the power-weighted mean |f|.

    Power is summed over images and channels (and includes the mean, |f| = 0, in the low band).

    Examples
    --------
    >>> import torch
    >>> from optimist.shifts import corrupt
    >>> clean = torch.rand(4, 1, 28, 28)
    >>> sorted(band_energy(clean, corrupt(clean, "gaussian_noise", 3)))
    ['high', 'low', 'mean_frequency', 'mid']
    """
    d = (corrupted.double() - clean.double()).cpu().numpy()
    p = (np.abs(np.fft.fft2(d)) ** 2).sum(axis=(0, 1))
    f = radial_frequency(*d.shape[-2:])
    total = p.sum()
    if total <= 0:
        return {**{b: math.nan for b in BANDS}, "mean_frequency": math.nan}
    bands = band_of(f)
    out = {b: float(p[bands == i].sum() / total) for i, b in enumerate(BANDS)}
    out["mean_frequency"] = float((p * f).sum() / total)
    return out


NO_BAND = "none"  # the band of a corruption that left the measured images as they were (no power to share)


def dominant_band(energy: dict[str, float]) -> str:
    """The band holding the largest share of :func:`band_energy`'s power, or ``"none"`` when the corruption changed
    nothing (every share undefined: e.g. contrast, blur or pixelation of images of one flat colour)."""
    shares = [energy[b] for b in BANDS]
    return NO_BAND if np.isnan(shares).all() else BANDS[int(np.nanargmax(shares))]


def measure_bands(images: torch.Tensor, *, names: Sequence[str] | None = None, severity: int = 3,
                  seed: int = 0, corrupted: dict[str, torch.Tensor] | None = None) -> pd.DataFrame:
    """One row per corruption: its power share per band at ``severity``, mean |f| and ``band``, the largest share.

    ``corrupted`` may hold already-corrupted copies of ``images`` by name (else they are made here).

    Examples
    --------
    >>> import torch
    >>> bands = measure_bands(torch.rand(4, 1, 28, 28), names=["gaussian_noise", "fog"])
    >>> bands.columns.tolist(), len(bands)
    (['corruption', 'low', 'mid', 'high', 'mean_frequency', 'band'], 2)
    """
    rows = []
    for name in names or corruption_names():
        y = corrupted[name] if corrupted and name in corrupted else corrupt(images, name, severity, seed=seed)
        e = band_energy(images, y)
        rows.append({"corruption": name, **e, "band": dominant_band(e)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------- heat map

def fourier_basis(h: int, w: int, u: int, v: int, *, dtype=torch.float32) -> torch.Tensor:
    """The (h, w) real Fourier basis image at frequency (u, v) (rows, columns; any integers), unit L2 norm.

    ``cos(2 pi (u r / h + v c / w))`` normalised: its FFT is non-zero only at (u, v) and (-u, -v) mod (h, w).

    Examples
    --------
    >>> basis = fourier_basis(28, 28, 1, 2)
    >>> basis.shape, round(float(basis.norm()), 2)
    (torch.Size([28, 28]), 1.0)
    """
    r = torch.arange(h, dtype=torch.float64)[:, None]
    c = torch.arange(w, dtype=torch.float64)[None, :]
    b = torch.cos(2 * math.pi * (u * r / h + v * c / w))
    return (b / b.norm()).to(dtype)


def centred_frequencies(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column frequencies of the centred heat-map grid: ``-(h // 2) .. (h - 1) // 2`` (zero in the middle)."""
    return np.arange(h) - h // 2, np.arange(w) - w // 2


def _canonical(u: int, v: int, h: int, w: int) -> tuple[int, int]:
    a, b = (u % h, v % w), ((-u) % h, (-v) % w)
    return min(a, b)


def fourier_heatmap(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
                    stride: int = 1, seed: int = 0, clip: bool = True, batch_size: int = 1024,
                    progress: bool = False) -> dict:
    """Yin et al.'s Fourier heat map of ``model``: error rate under ``x + r eps U(u, v)`` for every frequency.

    (u, v) and (-u, -v) give the same basis image, so each pair is evaluated once (half the spectrum) and the map
    is symmetric by construction. ``stride`` > 1 evaluates every stride-th frequency in each direction (counted
    from zero) and leaves NaN elsewhere. ``clip`` clamps the perturbed images to [0, 1], as the model expects.

    Returns ``{"error": (h, w) array on the centred grid (zero frequency at [h // 2, w // 2]),
    "correct": {(u, v): bool array over images}, "clean_error": float, "u": rows, "v": columns}``.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    >>> heatmap = fourier_heatmap(model, x, y, eps=4.0, stride=8)
    >>> heatmap["error"].shape, heatmap["eps"]
    ((28, 28), 4.0)
    """
    check_model_input(model, images, "images")
    check_labels(labels, images.shape[0], getattr(model, "num_classes", None), "labels")
    if eps <= 0:
        raise InputError(f"eps must be positive, got {eps}")
    if stride < 1:
        raise InputError(f"stride must be >= 1, got {stride}")
    n, ch, h, w = images.shape
    device = model_device(model)
    g = torch.Generator().manual_seed(seed)
    sign = torch.randint(0, 2, (n, ch, 1, 1), generator=g).float() * 2 - 1
    us, vs = centred_frequencies(h, w)
    todo: dict[tuple[int, int], tuple[int, int]] = {}
    for u in us:
        for v in vs:
            if u % stride or v % stride:
                continue
            todo.setdefault(_canonical(int(u), int(v), h, w), (int(u), int(v)))
    x = images.to(device)
    y = labels.to(device)
    s = sign.to(device=device, dtype=x.dtype)
    correct: dict[tuple[int, int], np.ndarray] = {}
    with evaluating(model), torch.no_grad():
        clean = torch.cat([model(x[i:i + batch_size]).argmax(1) for i in range(0, n, batch_size)]) == y
        keys = list(todo.items())
        per = max(1, batch_size // n)
        it = range(0, len(keys), per)
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc="heat map", leave=False)
        for k in it:
            group = keys[k:k + per]
            basis = torch.stack([fourier_basis(h, w, u, v) for _, (u, v) in group]).to(device, x.dtype)
            z = x[None] + eps * s[None] * basis[:, None, None]  # (G, N, C, H, W)
            if clip:
                z = z.clamp(0, 1)
            pred = model(z.reshape(-1, ch, h, w)).argmax(1).reshape(len(group), n)
            ok = (pred == y[None]).cpu().numpy()
            for j, (key, _) in enumerate(group):
                correct[key] = ok[j]
    err = np.full((h, w), np.nan)
    full: dict[tuple[int, int], np.ndarray] = {}
    for i, u in enumerate(us):
        for j, v in enumerate(vs):
            key = _canonical(int(u), int(v), h, w)
            if key in correct and not (u % stride or v % stride):
                err[i, j] = 1 - correct[key].mean()
                full[(int(u), int(v))] = correct[key]
    return {"error": err, "correct": full, "clean_error": float(1 - clean.float().mean()),
            "clean_correct": clean.cpu().numpy().astype(bool), "u": us, "v": vs,
            "eps": float(eps)}
