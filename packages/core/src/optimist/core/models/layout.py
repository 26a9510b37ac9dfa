"""Memory layout: channels-last convolution weights, which oneDNN runs much faster on CPU.

Measured on 2 CPU cores (``benchmarks/attack_throughput.py``): the small CNN's forward-backward runs about
1.6x faster and a CIFAR ResNet-18's about 1.2x when its 4-D weights are channels-last. The attack engine and
the training loop switch a CPU model to channels-last for the duration and restore the layout after, so
the user's model is returned as it came; on GPUs the layout is left alone. Set the environment variable
``OPTIMIST_CHANNELS_LAST=0`` to turn the switch off (the benchmarks use it for their before/after rows).
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch
from torch import nn


def is_channels_last(model: nn.Module) -> bool:
    """True when every 4-D parameter and buffer of ``model`` is stored channels-last."""
    tensors = [t for t in (*model.parameters(), *model.buffers()) if t.ndim == 4]
    return all(t.is_contiguous(memory_format=torch.channels_last) for t in tensors)


def prefers_channels_last(model: nn.Module) -> bool:
    """Whether switching ``model`` to channels-last is worth it: it has 4-D weights and lives on the CPU."""
    params = [p for p in model.parameters() if p.ndim == 4]
    return bool(params) and params[0].device.type == "cpu"


@contextlib.contextmanager
def channels_last(model: nn.Module, enabled: bool | None = None) -> Iterator[nn.Module]:
    """Store ``model``'s 4-D weights channels-last inside the block (CPU only), then restore the layout.

    The parameters are converted in place (``param.data``), so optimisers and other references stay valid
    and values are unchanged; only the strides differ. ``enabled=None`` follows ``OPTIMIST_CHANNELS_LAST``.
    """
    if enabled is None:
        enabled = os.environ.get("OPTIMIST_CHANNELS_LAST", "1") != "0"
    if not enabled or not prefers_channels_last(model) or is_channels_last(model):
        yield model
        return
    model.to(memory_format=torch.channels_last)
    try:
        yield model
    finally:
        model.to(memory_format=torch.contiguous_format)
