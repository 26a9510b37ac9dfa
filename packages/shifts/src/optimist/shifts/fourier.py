"""Fourier analysis of shifts: where in the spectrum a corruption puts its energy, and Yin et al.'s heat maps.

- :func:`band_energy` splits the power of the change a corruption makes (corrupted - clean) into radial frequency
  bands (:func:`band_powers` per image, :func:`band_shares` of their sum over images, so that images can be
  measured a chunk at a time); :func:`measure_bands` tags each corruption with the band holding most of that
  power. The bands, in cycles per pixel: low |f| < 0.1 (under about 3 cycles across a 28-pixel image), mid
  0.1 <= |f| < 0.25, high |f| >= 0.25 (above half the Nyquist frequency); on a 28x28 grid they hold 3%, 16% and
  81% of the frequencies. The tag is a measurement on the data at hand: the power of a change that scales the
  image (contrast, blur) follows the image's own spectrum, which for Fashion-MNIST sits mostly in the low band.
- :func:`fourier_basis` is the real 2-D Fourier basis image of unit L2 norm at frequency (u, v), and
  :func:`fourier_heatmap` is Yin et al.'s heat map: the error rate when ``r * eps * U(u, v)`` (r a random sign per
  image and channel) is added to the test images, for every frequency; :func:`heatmap_correct` is its per-image
  part (which image is classified correctly under which frequency) and :func:`heatmap_from_correct` the map made
  from those rows, so that the images can be shared out in chunks and the rows gathered.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

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


#: the columns of :func:`band_powers`: the power in each band, the total, and the total weighted by |f|
POWER_COLUMNS = (*BANDS, "total", "weighted")


def band_powers(clean: torch.Tensor, corrupted: torch.Tensor) -> np.ndarray:
    """Per image, the power of ``corrupted - clean`` (summed over channels) in each band, in all, and weighted by
    |f| in cycles per pixel: an (N, 5) float64 array with the columns of :data:`POWER_COLUMNS`.

    Rows of different images add up: :func:`band_shares` of their sum is :func:`band_energy` of all the images.

    Examples
    --------
    >>> import torch
    >>> clean = torch.zeros(2, 1, 8, 8)
    >>> powers = band_powers(clean, clean + 0.5)  # a constant change: all its power at |f| = 0
    >>> powers.shape, powers[:, 0].tolist(), powers[:, 4].tolist()
    ((2, 5), [1024.0, 1024.0], [0.0, 0.0])
    """
    d = (corrupted.double() - clean.double()).cpu().numpy()
    p = (np.abs(np.fft.fft2(d)) ** 2).sum(axis=1)  # (N, H, W)
    f = radial_frequency(*d.shape[-2:])
    bands = band_of(f)
    cols = [p[:, bands == i].sum(axis=1) for i in range(len(BANDS))]
    return np.stack(cols + [p.sum(axis=(1, 2)), (p * f).sum(axis=(1, 2))], axis=1)


def band_shares(powers: np.ndarray) -> dict[str, float]:
    """Share of the power in each band and the power-weighted mean |f| of :func:`band_powers` rows (of any number
    of images, summed here); NaN everywhere when there is no power.

    Examples
    --------
    >>> import numpy as np
    >>> band_shares(np.array([[1.0, 0.0, 1.0, 2.0, 0.5], [0.0, 0.0, 2.0, 2.0, 1.0]]))
    {'low': 0.25, 'mid': 0.0, 'high': 0.75, 'mean_frequency': 0.375}
    """
    total = np.asarray(powers, dtype=np.float64).reshape(-1, len(POWER_COLUMNS)).sum(axis=0)
    if total[3] <= 0:
        return {**{b: math.nan for b in BANDS}, "mean_frequency": math.nan}
    out = {b: float(total[i] / total[3]) for i, b in enumerate(BANDS)}
    out["mean_frequency"] = float(total[4] / total[3])
    return out


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
    return band_shares(band_powers(clean, corrupted))


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


def heatmap_frequencies(h: int, w: int, *, stride: int = 1) -> list[tuple[int, int]]:
    """The frequencies a heat map of an (h, w) image evaluates, one of each pair (u, v) and (-u, -v) (the same
    basis image), every ``stride``-th in each direction counted from zero: the columns of :func:`heatmap_correct`.

    Examples
    --------
    >>> heatmap_frequencies(4, 4, stride=2)
    [(-2, -2), (-2, 0), (0, -2), (0, 0)]
    """
    if stride < 1:
        raise InputError(f"stride must be >= 1, got {stride}")
    us, vs = centred_frequencies(h, w)
    todo: dict[tuple[int, int], tuple[int, int]] = {}
    for u in us:
        for v in vs:
            if u % stride or v % stride:
                continue
            todo.setdefault(_canonical(int(u), int(v), h, w), (int(u), int(v)))
    return list(todo.values())


def heatmap_correct(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
                    stride: int = 1, seed: int = 0, clip: bool = True, batch_size: int = 1024,
                    progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Which image ``model`` classifies correctly, clean ``(N,)`` and under ``x + r eps U(u, v)`` for each of
    :func:`heatmap_frequencies` ``(N, K)``, both bool; ``r`` is a random sign per image and channel drawn from
    ``seed``. At most ``batch_size`` images, perturbed copies included, go through the model at once (one image
    at a time with all its copies, when a single image's copies are more than that), whatever ``N`` is.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    >>> clean, correct = heatmap_correct(model, x, y, eps=4.0, stride=8, batch_size=8)
    >>> clean.shape, correct.shape, correct.dtype
    ((4,), (4, 5), dtype('bool'))
    """
    check_model_input(model, images, "images")
    check_labels(labels, images.shape[0], getattr(model, "num_classes", None), "labels")
    if eps <= 0:
        raise InputError(f"eps must be positive, got {eps}")
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    n, ch, h, w = images.shape
    freqs = heatmap_frequencies(h, w, stride=stride)
    device = model_device(model)
    g = torch.Generator().manual_seed(seed)
    sign = torch.randint(0, 2, (n, ch, 1, 1), generator=g).float() * 2 - 1
    # the work: (first image, images, first frequency, frequencies) with images x frequencies <= batch_size
    work = []
    for i in range(0, n, batch_size):
        k = min(batch_size, n - i)
        per = max(1, batch_size // k)
        work += [(i, k, f, per) for f in range(0, len(freqs), per)]
    correct = np.zeros((n, len(freqs)), dtype=bool)
    clean = np.zeros(n, dtype=bool)
    with evaluating(model), torch.no_grad():
        for i in range(0, n, batch_size):
            pred = model(images[i:i + batch_size].to(device)).argmax(1).cpu()
            clean[i:i + batch_size] = (pred == labels[i:i + batch_size].cpu()).numpy()
        for i, k, f, per in tqdm(work, desc="heat map", leave=False, disable=not progress):
            x = images[i:i + k].to(device)
            y = labels[i:i + k].to(device)
            s = sign[i:i + k].to(device=device, dtype=x.dtype)
            group = freqs[f:f + per]
            basis = torch.stack([fourier_basis(h, w, u, v) for u, v in group]).to(device, x.dtype)
            z = x[None] + eps * s[None] * basis[:, None, None]  # (G, k, C, H, W): G k <= batch_size
            if clip:
                z = z.clamp(0, 1)
            pred = model(z.reshape(-1, ch, h, w)).argmax(1).reshape(len(group), k)
            correct[i:i + k, f:f + len(group)] = (pred == y[None]).cpu().numpy().T
    return clean, correct


def heatmap_from_correct(clean: np.ndarray, correct: np.ndarray, h: int, w: int, *, eps: float,
                         stride: int = 1) -> dict:
    """The heat map of :func:`fourier_heatmap` from :func:`heatmap_correct`'s rows (of any images, gathered from
    chunks in any grouping): the error rate per frequency is the mean over the rows.

    Examples
    --------
    >>> import numpy as np
    >>> correct = np.ones((3, len(heatmap_frequencies(4, 4, stride=2))), dtype=bool)
    >>> correct[0, -1] = False  # the first image is misclassified at frequency (0, 0)
    >>> heatmap = heatmap_from_correct(np.ones(3, dtype=bool), correct, 4, 4, eps=1.0, stride=2)
    >>> round(float(heatmap["error"][2, 2]), 3), heatmap["clean_error"], sorted(heatmap["correct"])[:2]
    (0.333, 0.0, [(-2, -2), (-2, 0)])
    """
    freqs = heatmap_frequencies(h, w, stride=stride)
    correct = np.asarray(correct, dtype=bool).reshape(-1, len(freqs))
    clean = np.asarray(clean, dtype=bool).reshape(-1)
    column = {_canonical(u, v, h, w): j for j, (u, v) in enumerate(freqs)}
    us, vs = centred_frequencies(h, w)
    err = np.full((h, w), np.nan)
    full: dict[tuple[int, int], np.ndarray] = {}
    for i, u in enumerate(us):
        for j, v in enumerate(vs):
            if u % stride or v % stride:
                continue
            col = correct[:, column[_canonical(int(u), int(v), h, w)]]
            err[i, j] = 1 - col.mean()
            full[(int(u), int(v))] = col
    return {"error": err, "correct": full, "clean_error": float(1 - clean.mean()), "clean_correct": clean,
            "u": us, "v": vs, "eps": float(eps)}


def fourier_heatmap(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
                    stride: int = 1, seed: int = 0, clip: bool = True, batch_size: int = 1024,
                    progress: bool = False) -> dict:
    """Yin et al.'s Fourier heat map of ``model``: error rate under ``x + r eps U(u, v)`` for every frequency.

    (u, v) and (-u, -v) give the same basis image, so each pair is evaluated once (half the spectrum) and the map
    is symmetric by construction. ``stride`` > 1 evaluates every stride-th frequency in each direction (counted
    from zero) and leaves NaN elsewhere. ``clip`` clamps the perturbed images to [0, 1], as the model expects.
    At most ``batch_size`` images, perturbed copies included, go through the model at once
    (:func:`heatmap_correct`).

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
    clean, correct = heatmap_correct(model, images, labels, eps, stride=stride, seed=seed, clip=clip,
                                     batch_size=batch_size, progress=progress)
    return heatmap_from_correct(clean, correct, *images.shape[-2:], eps=eps, stride=stride)
