"""Where this process stands among torchrun's processes, and gathering what every process made.

Without an initialised ``torch.distributed`` process group everything here is the one-process case: rank 0 of 1,
and a gather returns the caller's own object.

>>> world()
(0, 1)
>>> gather({"rows": [1, 2]})
[{'rows': [1, 2]}]
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """``(rank, world size)`` of an initialised process group, else ``(0, 1)``.

    >>> world()[1] >= 1
    True
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def backend() -> str | None:
    """The process group's backend (``gloo``, ``nccl``), or None without one.

    >>> backend() is None
    True
    """
    if dist.is_available() and dist.is_initialized():
        return str(dist.get_backend())
    return None


def gather(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable; tensors on the CPU), in rank order, on every rank.

    >>> gather(3)
    [3]
    """
    rank, size = world()
    if size == 1:
        return [obj]
    parts: list[Any] = [None] * size
    dist.all_gather_object(parts, obj)
    return parts


def join(device: torch.device) -> tuple[torch.device, bool]:
    """Under torchrun (``WORLD_SIZE`` > 1), join its process group: nccl with this process's own GPU
    (``LOCAL_RANK``) for a CUDA ``device``, gloo otherwise. Returns the device to use and whether this call
    opened the group (then :func:`leave` closes it); without torchrun, ``(device, False)``.

    >>> join(torch.device("cpu"))
    (device(type='cpu'), False)
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or (dist.is_available() and dist.is_initialized()):
        return device, False
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device, True


def leave(opened: bool) -> None:
    """Close the process group that :func:`join` opened (nothing when it opened none).

    >>> leave(False)
    """
    if opened and dist.is_initialized():
        dist.destroy_process_group()


__all__ = ["backend", "gather", "join", "leave", "world"]
