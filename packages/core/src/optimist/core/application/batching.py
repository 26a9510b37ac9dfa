"""How many images an application handles at once: chosen from the model and the image size, to bound memory.

A backward pass keeps every layer's output, so the bytes of one image's activations (measured with one forward
pass) set how many images fit in :data:`ACTIVATION_BUDGET`. Methods that multiply each image (integrated
gradients' interpolation steps, SmoothGrad's samples, corruption sweeps) spread their copies over batches of the
same size, so an application's working set does not grow with ``n``.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from optimist.core.runtime import evaluating, model_device

#: bytes of forward activations one batch may hold (autograd keeps them for the backward pass)
ACTIVATION_BUDGET = 384 * 2**20
#: no batch is larger than this, however small the model
MAX_BATCH = 256
#: the largest image side the applications' defaults were chosen at (28x28 Fashion-MNIST, 32x32 CIFAR); above it,
#: the defaults that multiply a large model's cost are cut (geometry's DCT blocks, generation's steps, shifts'
#: heat-map frequencies: at most this many per direction)
SMALL_SIDE = 32


def activation_bytes(model: nn.Module, image_shape: tuple[int, ...]) -> int:
    """Bytes of every leaf module's output for one image of ``image_shape`` (C, H, W).

    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    >>> activation_bytes(net, (1, 8, 8))
    296
    """
    total = 0

    def count(_module, _inputs, out) -> None:
        nonlocal total
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                total += t.numel() * t.element_size()

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(count) for m in leaves]
    try:
        with evaluating(model), torch.no_grad():
            model(torch.zeros(1, *image_shape, device=model_device(model)))
    finally:
        for h in handles:
            h.remove()
    return max(total, 4 * int(torch.Size(image_shape).numel()))


def auto_batch_size(models: Iterable[nn.Module], image_shape: tuple[int, ...], *,
                    budget: int = ACTIVATION_BUDGET, cap: int = MAX_BATCH) -> int:
    """Images per batch so that the largest model's activations stay within ``budget`` bytes (1 to ``cap``).

    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 224 * 224, 10))
    >>> auto_batch_size([net], (3, 224, 224), budget=2**20)
    1
    """
    per_image = max(activation_bytes(m, tuple(image_shape)) for m in models)
    return int(max(1, min(cap, budget // per_image)))


__all__ = ["ACTIVATION_BUDGET", "MAX_BATCH", "activation_bytes", "auto_batch_size"]
