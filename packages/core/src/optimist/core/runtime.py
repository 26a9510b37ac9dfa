"""The runtime every part of Optimist shares: devices, eval mode, leaving models as they came, seeded scopes.

>>> import torch
>>> from optimist.core.runtime import preserved, seeded
>>> net = torch.nn.Sequential(torch.nn.Linear(2, 2)).train()
>>> before = torch.get_rng_state()
>>> with preserved(net), seeded(0):
...     _ = net.eval()(torch.randn(1, 2))
>>> net.training, torch.equal(torch.get_rng_state(), before)
(True, True)
"""

from __future__ import annotations

import contextlib
import platform
import random
from importlib.metadata import PackageNotFoundError, version
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from optimist.core.errors import DeviceError

__all__ = ["evaluating", "library_versions", "model_device", "predict", "preserved", "resolve_device", "seeded"]


@contextlib.contextmanager
def evaluating(models: nn.Module | Iterable[nn.Module]) -> Iterator[nn.Module | list[nn.Module]]:
    """Eval mode for the duration (batch-norm statistics and dropout must not move), then the caller's mode.

    Takes one model or several; the mode of every submodule is restored, not just the top-level flag.
    """
    group = [models] if isinstance(models, nn.Module) else list(models)
    modes = [(m, m.training) for model in group for m in model.modules()]
    for model in group:
        model.eval()
    try:
        yield models
    finally:
        for m, was in modes:
            m.training = was


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a model with neither)."""
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def predict(model: nn.Module, x: torch.Tensor, *, batch_size: int = 512) -> torch.Tensor:
    """Predicted class of each image in ``x`` (eval mode, no gradients), on ``x``'s device."""
    device = model_device(model)
    out = []
    with evaluating(model), torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            out.append(model(x[i:i + batch_size].to(device)).argmax(1).to(x.device))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=x.device)


class _ModelState:
    """What :func:`preserved` restores: per-module mode, per-tensor device/dtype and requires_grad."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.modes = [(m, m.training) for m in model.modules()]
        self.params = [(p, p.data, p.requires_grad) for p in model.parameters()]
        self.buffers = [(mod, name, buf) for mod in model.modules() for name, buf in mod._buffers.items()
                        if buf is not None]

    def restore(self) -> None:
        for m, was in self.modes:
            m.training = was
        for p, data, flag in self.params:
            if p.data.device != data.device or p.data.dtype != data.dtype:
                p.data = p.data.to(device=data.device, dtype=data.dtype)
            p.requires_grad_(flag)
        for mod, name, buf in self.buffers:
            cur = mod._buffers.get(name)
            if cur is not None and (cur.device != buf.device or cur.dtype != buf.dtype):
                mod._buffers[name] = cur.to(device=buf.device, dtype=buf.dtype)


@contextlib.contextmanager
def preserved(models: nn.Module | Iterable[nn.Module]) -> Iterator[None]:
    """Whatever happens inside, each model leaves with the mode, device, dtype and flags it came with."""
    models = [models] if isinstance(models, nn.Module) else list(models)
    states = [_ModelState(m) for m in models]
    try:
        yield
    finally:
        for s in states:
            s.restore()


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a torch.device that exists here; a clear error for unknown or unavailable devices."""
    if device is None:
        return torch.device("cpu")
    if isinstance(device, torch.device):
        dev = device
    else:
        try:
            dev = torch.device(str(device))
        except RuntimeError as e:
            raise DeviceError(f"unknown device {device!r}; use cpu, cuda, cuda:N or mps", field="device",
                              value=device) from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {device!r} asked for, but this machine has no usable CUDA GPU; use --device cpu",
                              field="device", value=device)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device {device!r} does not exist: {torch.cuda.device_count()} CUDA device(s) here",
                              field="device", value=device)
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device {device!r} asked for, but MPS is not available here; use --device cpu",
                          field="device", value=device)
    return dev


@contextlib.contextmanager
def seeded(seed: int, devices: Sequence[torch.device] = ()) -> Iterator[torch.Generator]:
    """Run with the global RNGs (torch, numpy, ``random``) seeded by ``seed``; give them back untouched afterwards.

    Libraries that draw from a global RNG (random starts, dropout, a zoo model trained on first use) become
    reproducible from ``seed`` while the caller's own random streams continue as if nothing had run. Yields a
    CPU ``torch.Generator`` seeded alike.
    """
    cuda = [d.index or 0 for d in map(torch.device, devices) if d.type == "cuda"]
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            random.seed(seed)
            yield torch.Generator().manual_seed(seed)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def library_versions() -> dict[str, str]:
    """Versions of what a result depends on (for the settings record of a run)."""
    import torchvision

    try:
        core = version("optimist-core")
    except PackageNotFoundError:  # running from a source tree that was never installed
        core = "not installed"
    return {"optimist-core": core, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "python": platform.python_version()}
