"""How many CPU threads torch uses: ``--threads N``, else ``$OPTIMIST_THREADS``, else a load-aware default.

torch's default (one thread per core) collapses when another process already keeps some cores busy: OpenMP
threads then wait on each other at every parallel region (measured on a 2-core machine: a quick geometry
demo took 95 s beside another job, 2 s with one thread). The default here counts the cores this process may
use and leaves out those the recent load average says are busy, keeping at least one.
"""

from __future__ import annotations

import os

from optimist.core.errors import InputError

ENV = "OPTIMIST_THREADS"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """Usable cores minus the ones other processes keep busy (1-minute load average), at least 1; under
    ``torchrun`` each of the node's processes takes its share (``LOCAL_WORLD_SIZE``) of the usable cores."""
    cores = usable_cores()
    local = os.environ.get("LOCAL_WORLD_SIZE", "")
    if local.isdigit() and int(local) > 1:
        return max(1, cores // int(local))
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


def configure_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads from ``n``, ``$OPTIMIST_THREADS`` or :func:`default_threads`; returns it."""
    import torch

    source = "--threads"
    if n is None and os.environ.get(ENV):
        source = ENV
        try:
            n = int(os.environ[ENV])
        except ValueError as e:
            raise InputError(f"{ENV} must be a positive integer, got {os.environ[ENV]!r}") from e
    if n is None:
        n = default_threads()
    elif n < 1:
        raise InputError(f"{source} must be >= 1, got {n}")
    torch.set_num_threads(n)
    return n
