"""Image corruptions on tensors: the 15 MNIST-C corruptions and six ImageNet-C families, five severities each.

``corrupt(images, name, severity, seed=0)`` takes float images ``(N, C, H, W)`` in [0, 1] and returns the
corrupted batch with the same shape and dtype, in [0, 1]. Severity 0 is the identity; 1..5 follow the
definitions of MNIST-C (Mu & Gilmer 2019, google-research/mnist-c ``corruptions.py``) and ImageNet-C
(Hendrycks & Dietterich 2019, bethgelab ``imagecorruptions``), re-implemented here on batched tensors:

- MNIST-C published one severity for each corruption; its code carries the five-level ladders of the ImageNet-C
  families, which are used as they are (its parameters are sized for 28x28 digits). Spatial parameters (blur
  radii, displacements, line widths) scale with ``min(H, W) / 28`` for other image sizes.
- Where MNIST-C has no ladder (stripe, dotted line, zigzag, canny edges) the published corruption is one end
  of ours: stripe inverts ``[1, 3, 4, 6, 7] / 28`` of the width at each side (MNIST-C: 7 of 28 px); dotted line
  and zigzag draw 1..5 lines (MNIST-C: one); canny edges blend the edge map in with weight 0.2..1 (MNIST-C: 1).
- Elastic uses imagecorruptions' monotone ladder (a smoothed random displacement field whose size grows with
  severity) rather than the original ImageNet-C parameters, which are not monotone in severity.
- Spatter is MNIST-C's grey "mud" version at every severity (ImageNet-C's water branch needs OpenCV).

Randomness: one ``numpy.random.Generator`` per chunk of 256 images, seeded from (seed, corruption, chunk), so a
result is a function of the images and the seed alone (the global RNGs are never touched), and most
corruptions draw the same random numbers at every severity (the noise pattern, rotation direction, fog map or
line position stays put as the severity grows: paired across severities).
"""

from __future__ import annotations

import io
import math
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from optimist.core.checks import check_images
from optimist.core.errors import InputError

CHUNK = 256

MNIST_C = ("shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale", "rotate", "brightness",
           "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag", "canny_edges")
IMAGENET_C = ("gaussian_noise", "defocus_blur", "contrast", "jpeg_compression", "pixelate", "elastic_transform")


@dataclass(frozen=True)
class Corruption:
    name: str
    family: str  # "noise", "blur", "geometric", "digital", "weather", "lines"
    source: str  # "MNIST-C" or "ImageNet-C"
    fn: Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


REGISTRY: dict[str, Corruption] = {}


def _register(name: str, family: str):
    def deco(fn):
        REGISTRY[name] = Corruption(name, family, "MNIST-C" if name in MNIST_C else "ImageNet-C", fn)
        return fn
    return deco


def corruption_names(which: str = "all") -> tuple[str, ...]:
    """Names of the corruptions: ``"all"`` (MNIST-C then ImageNet-C), ``"mnist-c"`` or ``"imagenet-c"``.

    Examples
    --------
    >>> corruption_names("mnist-c")[:3], len(corruption_names())
    (('shot_noise', 'impulse_noise', 'glass_blur'), 21)
    """
    sets = {"all": MNIST_C + IMAGENET_C, "mnist-c": MNIST_C, "imagenet-c": IMAGENET_C}
    if which not in sets:
        raise InputError(f"unknown corruption set {which!r}; choose one of {', '.join(sets)}")
    return sets[which]


def check_corruption(name: str) -> str:
    if name not in REGISTRY:
        raise InputError(f"unknown corruption {name!r}; valid names: {', '.join(corruption_names())}")
    return name


def check_severity(severity) -> int:
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or not 0 <= int(severity) <= 5:
        raise InputError(f"severity must be an integer in 1..5 (0 = no corruption), got {severity!r}")
    return int(severity)


def _rng(seed: int, name: str, chunk: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(name.encode()), int(chunk)])


def corrupt(images: torch.Tensor, name: str, severity: int, *, seed: int = 0) -> torch.Tensor:
    """``images`` (N, C, H, W) in [0, 1] with corruption ``name`` at ``severity`` (0 = unchanged, 1..5).

    Examples
    --------
    >>> import torch
    >>> x = torch.rand(4, 1, 28, 28)
    >>> noisy = corrupt(x, "gaussian_noise", 3)
    >>> noisy.shape, bool(((noisy >= 0) & (noisy <= 1)).all()), torch.equal(corrupt(x, "fog", 0), x)
    (torch.Size([4, 1, 28, 28]), True, True)
    """
    check_images(images, "images")
    check_corruption(name)
    severity = check_severity(severity)
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise InputError(f"images must be a tensor of shape (N, C, H, W), got "
                         f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}")
    if not images.is_floating_point():
        raise InputError(f"images must be floating point in [0, 1], got dtype {images.dtype}")
    if images.shape[1] not in (1, 3):
        raise InputError(f"images must have 1 or 3 channels, got {images.shape[1]}")
    if severity == 0:
        return images.clone()
    x = images.detach().to("cpu", torch.float64).clamp(0, 1).numpy()
    out = np.empty_like(x)
    fn = REGISTRY[name].fn
    for k, i in enumerate(range(0, len(x), CHUNK)):
        out[i:i + CHUNK] = fn(x[i:i + CHUNK].copy(), severity, _rng(seed, name, k))
    res = torch.from_numpy(np.clip(out, 0, 1)).to(device=images.device, dtype=images.dtype)
    return res


def _scale(x: np.ndarray) -> float:
    return min(x.shape[-2:]) / 28.0


def _gaussian(x: np.ndarray, sigma: float, mode: str = "nearest") -> np.ndarray:
    """skimage.filters.gaussian's filter (truncate 4, edge 'nearest') on the spatial axes of (N, C, H, W)."""
    return ndimage.gaussian_filter(x, sigma=(0, 0, sigma, sigma), mode=mode, truncate=4.0)


def _grey(x: np.ndarray) -> np.ndarray:
    """(N, H, W) luminance (ITU-R 601 weights as skimage's rgb2gray for colour; the channel itself for grey)."""
    if x.shape[1] == 1:
        return x[:, 0]
    return np.tensordot(np.array([0.2125, 0.7154, 0.0721]), x, axes=([0], [1]))


def _warp(x: np.ndarray, matrices: np.ndarray, shifts: np.ndarray | None = None, *, mode: str = "bilinear",
          padding: str = "zeros") -> np.ndarray:
    """Sample each image at ``A @ (p - c) + c + t`` for output pixel p = (col, row), c the image centre.

    ``matrices`` (N, 2, 2) and ``shifts`` (N, 2) in pixels: the inverse map, as skimage.transform.warp's
    ``inverse_map``; bilinear, zero outside (skimage's order=1, constant 0) unless ``padding`` says otherwise.
    """
    n, _, h, w = x.shape
    t = torch.from_numpy(x)
    a = torch.from_numpy(np.array(matrices, dtype=np.float64))
    # pixel coordinates -> [-1, 1] with align_corners=True: u = 2 p / (size - 1) - 1
    sx, sy = (w - 1) / 2.0, (h - 1) / 2.0
    s = torch.tensor([[sx, 0.0], [0.0, sy]], dtype=torch.float64)
    theta = torch.zeros(n, 2, 3, dtype=torch.float64)
    theta[:, :, :2] = torch.linalg.inv(s) @ a @ s
    if shifts is not None:
        theta[:, :, 2] = torch.from_numpy(np.array(shifts, dtype=np.float64)) / torch.tensor([sx, sy])
    grid = F.affine_grid(theta, list(t.shape), align_corners=True)
    return F.grid_sample(t, grid, mode=mode, padding_mode=padding, align_corners=True).numpy()


# ----------------------------------------------------------------------------------------------- noise

@_register("gaussian_noise", "noise")
def _gaussian_noise(x, s, rng):
    c = [0.08, 0.12, 0.18, 0.26, 0.38][s - 1]
    return x + rng.standard_normal(x.shape) * c


@_register("shot_noise", "noise")
def _shot_noise(x, s, rng):
    c = [60, 25, 12, 5, 3][s - 1]
    return rng.poisson(x * c) / c


@_register("impulse_noise", "noise")
def _impulse_noise(x, s, rng):
    c = [0.03, 0.06, 0.09, 0.17, 0.27][s - 1]
    # skimage.util.random_noise(mode="s&p", amount=c): each value flips with probability c, to 1 or 0 evenly.
    u = rng.random((2,) + x.shape)
    flip, salt = u[0] < c, u[1] < 0.5
    out = x.copy()
    out[flip & salt] = 1.0
    out[flip & ~salt] = 0.0
    return out


# ------------------------------------------------------------------------------------------------ blur

@_register("glass_blur", "blur")
def _glass_blur(x, s, rng):
    sigma, delta, iterations = [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)][s - 1]
    k = _scale(x)
    sigma, delta = sigma * k, max(1, round(delta * k))
    y = np.floor(_gaussian(x, sigma) * 255) / 255  # MNIST-C rounds to uint8 between the two blurs
    n, _, h, w = y.shape
    idx = np.arange(n)
    # Local shuffle, in MNIST-C's order: each pixel, with probability 1/2, swaps with one up to `delta` away.
    for _ in range(iterations):
        for r in range(h - delta, delta, -1):
            for c in range(w - delta, delta, -1):
                take = rng.random(n) < 0.5
                d = rng.integers(-delta, delta, size=(2, n))
                sel = idx[take]
                if len(sel) == 0:
                    continue
                r2, c2 = r + d[1, take], c + d[0, take]
                a = y[sel, :, r, c].copy()
                y[sel, :, r, c] = y[sel, :, r2, c2]
                y[sel, :, r2, c2] = a
    return _gaussian(y, sigma)


def _disk(radius: float, alias_blur: float) -> np.ndarray:
    """ImageNet-C's anti-aliased disk kernel (a 3x3 or 5x5 Gaussian of the aliased disk), normalised."""
    half = 8 if radius <= 8 else int(math.ceil(radius))
    ax = np.arange(-half, half + 1)
    xx, yy = np.meshgrid(ax, ax)
    d = ((xx ** 2 + yy ** 2) <= radius ** 2).astype(np.float64)
    d /= d.sum()
    ks = 3 if radius <= 8 else 5
    d = ndimage.gaussian_filter(d, alias_blur, mode="mirror", truncate=(ks // 2) / max(alias_blur, 1e-6))
    return d / d.sum()


def _filter(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate every channel with ``kernel`` (reflect-101 edges, as cv2.filter2D)."""
    t = torch.from_numpy(x)
    n, c, h, w = t.shape
    kh, kw = kernel.shape
    ph, pw = min(kh // 2, h - 1), min(kw // 2, w - 1)
    if (ph, pw) != (kh // 2, kw // 2):  # a kernel wider than the image: crop it to what reflection can reach
        kernel = kernel[kh // 2 - ph:kh // 2 + ph + 1, kw // 2 - pw:kw // 2 + pw + 1]
        kernel = kernel / kernel.sum()
    k = torch.from_numpy(np.ascontiguousarray(kernel)).float()[None, None]
    y = F.pad(t.float().reshape(n * c, 1, h, w), (pw, pw, ph, ph), mode="reflect")
    return F.conv2d(y, k).reshape(n, c, h, w).double().numpy()


@_register("defocus_blur", "blur")
def _defocus_blur(x, s, rng):
    radius, alias = [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)][s - 1]
    return _filter(x, _disk(radius * _scale(x), alias))


@_register("motion_blur", "blur")
def _motion_blur(x, s, rng):
    radius, sigma = [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)][s - 1]
    k = _scale(x)
    radius, sigma = max(1, round(radius * k)), sigma * k
    width = 2 * radius + 1
    weights = np.exp(-np.arange(width) ** 2 / (2 * sigma ** 2))
    weights /= weights.sum()
    n, _, h, w = x.shape
    angle = np.deg2rad(rng.uniform(-45, 45, size=n))
    out = np.zeros_like(x)
    eye = np.broadcast_to(np.eye(2), (n, 2, 2))
    alive = np.ones(n, dtype=bool)
    # imagecorruptions' shift-and-add: the image shifted i pixels along the angle, edge pixels repeated,
    # Gaussian weights in i; a shift past the border ends that image's sum (as the reference does).
    for i in range(width):
        dy = -np.ceil(i * np.sin(angle) - 0.5)
        dx = -np.ceil(i * np.cos(angle) - 0.5)
        alive &= (np.abs(dy) < h) & (np.abs(dx) < w)
        if not alive.any():
            break
        shifted = _warp(x, eye, np.stack([-dx, -dy], 1), mode="nearest", padding="border")
        out += weights[i] * shifted * alive[:, None, None, None]
    return out


# ------------------------------------------------------------------------------------------- geometric

def _signs(rng, n, k=1):
    return rng.choice(np.array([-1.0, 1.0]), size=(n, k))


@_register("shear", "geometric")
def _shear(x, s, rng):
    c = [0.2, 0.4, 0.6, 0.8, 1.0][s - 1] * _signs(rng, len(x))[:, 0]
    # skimage.transform.AffineTransform(shear=c), about the image centre, as the inverse map
    a = np.zeros((len(x), 2, 2))
    a[:, 0, 0], a[:, 0, 1], a[:, 1, 1] = 1.0, -np.sin(c), np.cos(c)
    return _warp(x, a)


@_register("rotate", "geometric")
def _rotate(x, s, rng):
    c = [0.2, 0.4, 0.6, 0.8, 1.0][s - 1] * _signs(rng, len(x))[:, 0]
    a = np.stack([np.stack([np.cos(c), -np.sin(c)], 1), np.stack([np.sin(c), np.cos(c)], 1)], 1)
    return _warp(x, a)


@_register("scale", "geometric")
def _scale_c(x, s, rng):
    c = 1 / [0.9, 0.8, 0.7, 0.6, 0.5][s - 1]  # the inverse map scales by 1/f: the object shrinks to f
    return _warp(x, np.broadcast_to(np.eye(2) * c, (len(x), 2, 2)))


@_register("translate", "geometric")
def _translate(x, s, rng):
    c = [1, 2, 3, 4, 5][s - 1] * max(1, round(_scale(x)))
    return _warp(x, np.broadcast_to(np.eye(2), (len(x), 2, 2)), c * _signs(rng, len(x), 2))


@_register("elastic_transform", "geometric")
def _elastic(x, s, rng):
    n, _, h, w = x.shape
    size = min(h, w)
    rms = size * [0.02, 0.035, 0.05, 0.065, 0.08][s - 1]  # RMS displacement in pixels: 0.56 .. 2.24 at 28 px
    field = ndimage.gaussian_filter(rng.uniform(-1, 1, size=(n, 2, h, w)), sigma=(0, 0, 0.1 * size, 0.1 * size),
                                    mode="reflect", truncate=3)
    field /= np.sqrt((field ** 2).mean(axis=(1, 2, 3), keepdims=True)) + 1e-12
    d = torch.from_numpy(field * rms)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                            indexing="ij")
    gx = (xx + d[:, 0]) / ((w - 1) / 2) - 1
    gy = (yy + d[:, 1]) / ((h - 1) / 2) - 1
    grid = torch.stack([gx, gy], -1)
    return F.grid_sample(torch.from_numpy(x), grid, mode="bilinear", padding_mode="reflection",
                         align_corners=True).numpy()


# --------------------------------------------------------------------------------------------- digital

@_register("brightness", "weather")
def _brightness(x, s, rng):
    c = [0.1, 0.2, 0.3, 0.4, 0.5][s - 1]
    # HSV value + c, keeping hue and saturation: rgb * V'/V (a black pixel becomes grey c); grey: x + c.
    v = x.max(axis=1, keepdims=True)
    v2 = np.minimum(v + c, 1.0)
    return np.where(v > 0, x * v2 / np.maximum(v, 1e-12), v2)


@_register("contrast", "digital")
def _contrast(x, s, rng):
    c = [0.4, 0.3, 0.2, 0.1, 0.05][s - 1]
    m = x.mean(axis=(2, 3), keepdims=True)
    return (x - m) * c + m


@_register("jpeg_compression", "digital")
def _jpeg(x, s, rng):
    from PIL import Image

    q = [25, 18, 15, 10, 7][s - 1]
    u8 = np.round(x * 255).astype(np.uint8).transpose(0, 2, 3, 1)
    out = np.empty_like(x)
    for i, im in enumerate(u8):
        buf = io.BytesIO()
        Image.fromarray(im[..., 0] if im.shape[-1] == 1 else im).save(buf, "JPEG", quality=q)
        dec = np.asarray(Image.open(buf), dtype=np.float64) / 255
        out[i] = dec[None] if dec.ndim == 2 else dec.transpose(2, 0, 1)
    return out


@_register("pixelate", "digital")
def _pixelate(x, s, rng):
    from PIL import Image

    c = [0.6, 0.5, 0.4, 0.3, 0.25][s - 1]
    n, ch, h, w = x.shape
    small = (max(1, int(w * c)), max(1, int(h * c)))
    out = np.empty_like(x)
    for i in range(n):
        for j in range(ch):
            im = Image.fromarray(x[i, j].astype(np.float32), mode="F")
            out[i, j] = np.asarray(im.resize(small, Image.BOX).resize((w, h), Image.NEAREST))
    return out


@_register("stripe", "digital")
def _stripe(x, s, rng):
    w = x.shape[-1]
    k = int(round(w * [1.4, 2.8, 4.2, 5.6, 7.0][s - 1] / 28))
    out = x.copy()
    out[..., :k] = 1 - x[..., :k]
    out[..., w - k:] = 1 - x[..., w - k:]
    return out


@_register("canny_edges", "digital")
def _canny(x, s, rng):
    from skimage.feature import canny

    alpha = [0.2, 0.4, 0.6, 0.8, 1.0][s - 1]
    g = _grey(x)
    edges = np.stack([canny(im, sigma=_scale(x)) for im in g]).astype(np.float64)[:, None]
    return (1 - alpha) * x + alpha * np.broadcast_to(edges, x.shape)


# --------------------------------------------------------------------------------------------- weather

def _plasma(rng: np.random.Generator, n: int, mapsize: int, decay: float) -> np.ndarray:
    """ImageNet-C's diamond-square height map (in [0, 1]) for ``n`` images at once."""
    m = np.zeros((n, mapsize, mapsize), dtype=np.float32)
    step, wibble = mapsize, 100.0

    def wibbled(a):
        return a / 4 + np.float32(wibble * wibble) * (2 * rng.random(a.shape, dtype=np.float32) - 1)

    while step >= 2:
        half = step // 2
        corner = m[:, 0:mapsize:step, 0:mapsize:step]
        sq = corner + np.roll(corner, -1, axis=1)
        sq = sq + np.roll(sq, -1, axis=2)
        m[:, half:mapsize:step, half:mapsize:step] = wibbled(sq)
        dr = m[:, half:mapsize:step, half:mapsize:step]
        ul = m[:, 0:mapsize:step, 0:mapsize:step]
        lt = dr + np.roll(dr, 1, axis=1) + ul + np.roll(ul, -1, axis=2)
        m[:, 0:mapsize:step, half:mapsize:step] = wibbled(lt)
        tt = dr + np.roll(dr, 1, axis=2) + ul + np.roll(ul, -1, axis=1)
        m[:, half:mapsize:step, 0:mapsize:step] = wibbled(tt)
        step //= 2
        wibble /= decay
    m = m.astype(np.float64)
    m -= m.min(axis=(1, 2), keepdims=True)
    return m / m.max(axis=(1, 2), keepdims=True)


@_register("fog", "weather")
def _fog(x, s, rng):
    # MNIST-C's ladder, except that severity 4 has strength 2.75 (MNIST-C: 2.5, as severity 3), which makes the
    # distance to the clean image grow with every step
    strength, decay = [(1.5, 2), (2.0, 2), (2.5, 1.7), (2.75, 1.5), (3.0, 1.4)][s - 1]
    n, _, h, w = x.shape
    # MNIST-C crops 28x28 of a 256x256 map (the fog varies slowly across the digit); keep that ratio.
    mapsize = 1 << int(math.ceil(math.log2(max(h, w) * 256 / 28)))
    # The wibble draws depend on the decay, so draw the map from its own stream: same for every severity.
    sub = np.random.default_rng(rng.integers(0, 2 ** 63, size=4))
    fog = np.concatenate([_plasma(sub, len(x[i:i + 64]), mapsize, decay)[:, None, :h, :w]
                          for i in range(0, n, 64)])
    mx = x.max(axis=(1, 2, 3), keepdims=True)
    return (x + strength * fog) * mx / (mx + strength)


@_register("spatter", "weather")
def _spatter(x, s, rng):
    # MNIST-C's mud spatter (its severity 4: liquid N(0.65, 0.3), blur 1, threshold 0.65, mask blur 1.5) with the
    # threshold as the ladder; MNIST-C's own ladder changes blur radii too and is not monotone in severity. A lower
    # threshold gives a superset of mud, so the change grows with severity pixel by pixel.
    loc, scale, sigma, sigma2 = 0.65, 0.3, 1.0, 1.5
    thresh = [0.74, 0.71, 0.68, 0.65, 0.62][s - 1]
    k = _scale(x)
    n, ch, h, w = x.shape
    liquid = loc + scale * rng.standard_normal((n, 1, h, w))
    liquid = _gaussian(liquid, sigma * k)
    liquid[liquid < thresh] = 0
    m = _gaussian((liquid > thresh).astype(np.float64), sigma2 * k)
    m[m < 0.8] = 0
    colour = np.array([63, 42, 20])[:ch] / 255 if ch == 3 else np.array([63 / 255])
    return x * (1 - m) + colour[None, :, None, None] * m


# ----------------------------------------------------------------------------------------------- lines

def _line(c0, r0, c1, r1, h, w, thickness):
    """MNIST-C's anti-aliased line between (c0, r0) and (c1, r1) (arrays of N), as (N, H, W) in [0, 1]."""
    c0, r0, c1, r1 = (np.asarray(v, dtype=np.float64)[:, None, None] for v in (c0, r0, c1, r1))
    cc = np.arange(w, dtype=np.float64)[None, None, :]
    rr = np.arange(h, dtype=np.float64)[None, :, None]
    dc = np.where(c1 == c0, 1.0, c1 - c0)
    slope = (r1 - r0) / dc
    dist = np.clip(np.abs(rr - (slope * (cc - c0) + r0)), 0, thickness - 1e-10)
    line = np.clip(np.log(1 - dist / thickness) + 1, 0, 1)
    inside = (cc >= np.floor(c0)) & (cc < np.ceil(c1)) & (c1 != c0)
    return line * inside


@_register("dotted_line", "lines")
def _dotted_line(x, s, rng):
    n, _, h, w = x.shape
    out = x.copy()
    t = 2.3 * _scale(x)
    dash = max(1, round(2 * _scale(x)))
    off = (np.arange(w) // dash) % 2 == 0  # MNIST-C blanks columns 0-1, 4-5, ... (every other pair)
    for j in range(5):  # always draw 5 lines' worth of random numbers: severity s keeps the first s lines
        r = rng.integers(0, h - 1, size=(2, n))
        if j < s:
            line = _line(np.zeros(n), r[0], np.full(n, w - 1.0), r[1], h, w, t)
            line[..., off] = 0
            out = np.clip(out + line[:, None], 0, 1)
    return out


@_register("zigzag", "lines")
def _zigzag(x, s, rng):
    n, _, h, w = x.shape
    k = _scale(x)
    a = b = 2.0 * k
    c0, c1 = 2 * k, w - 1 - 2 * k
    out = x.copy()
    for z in range(5):
        r0 = rng.integers(0, h - 1, size=n).astype(np.float64)
        r1 = r0 + rng.integers(-5, 5, size=n) * k
        if z >= s:
            continue
        theta = np.arctan((r1 - r0) / (c1 - c0))
        d = (c1 - c0) / np.cos(theta)
        # zigzag vertices along a straight segment of length d, then rotated by theta (MNIST-C's construction)
        m = int(((d.max() - a) // (2 * a)) + 1)
        pc = np.stack([np.zeros(n)] + [np.full(n, (2 * i + 1) * a) for i in range(m)] + [d], 1)
        pr = np.stack([np.zeros(n)] + [np.full(n, (-1) ** i * b) for i in range(m)] + [np.zeros(n)], 1)
        # vertices past the segment's end collapse onto the end point (zero-length segments draw nothing)
        beyond = pc > d[:, None]
        pc = np.where(beyond, d[:, None], pc)
        last = (~beyond[:, :-1]).sum(1) - 1
        pr[:, -1] = pr[np.arange(n), last] / 2
        pr = np.where(beyond, pr[:, -1:], pr)
        cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
        cs = cos * pc - sin * pr + c0
        rs = sin * pc + cos * pr + r0[:, None]
        for i in range(1, pc.shape[1]):
            seg = _line(cs[:, i - 1], rs[:, i - 1], cs[:, i], rs[:, i], h, w, 2.3 * k)
            out = np.clip(out + seg[:, None], 0, 1)
    return out
