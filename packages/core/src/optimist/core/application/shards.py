"""Per-image work in fixed chunks, shared out over torchrun's processes and gathered in order on every rank.

The chunks are fixed by the batch size alone (never by the number of processes), chunk ``j`` runs on rank
``j % world_size``, and each chunk draws its randomness from generators seeded by :func:`chunk_seed` of the run's
seed and ``j`` (the global torch, numpy and ``random`` generators are reseeded alike for libraries that draw from
them). So every chunk computes the same numbers on whichever rank it runs, and the gathered result equals the
one-process result. A chunk that fails on one rank stops every rank with one :class:`ShardError` naming it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from optimist.core.errors import ShardError
from optimist.core.ranks import gather, world


@dataclass(frozen=True)
class Chunk:
    """One chunk of per-image work: images ``start:stop``, its index and its own seeded generators."""

    index: int
    start: int
    stop: int
    seed: int
    generator: torch.Generator
    rng: np.random.Generator

    @property
    def size(self) -> int:
        return self.stop - self.start


def chunk_seed(seed: int, index: int) -> int:
    """The seed of chunk ``index`` of a run seeded with ``seed`` (independent of the rank that runs it).

    >>> chunk_seed(0, 0) != chunk_seed(0, 1) and chunk_seed(0, 1) == chunk_seed(0, 1)
    True
    """
    return int(np.random.SeedSequence([int(seed) % 2**63, int(index)]).generate_state(1, np.uint64)[0] % 2**62)


def _cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu(v) for v in value)
    return value


def combine(parts: Sequence[Any]) -> Any:
    """Chunk outputs, in chunk order, as one: tensors and arrays concatenated along dim 0, data frames stacked,
    lists joined, dicts and tuples combined entry by entry.

    >>> combine([(torch.tensor([1]), [2]), (torch.tensor([3]), [4])])
    (tensor([1, 3]), [2, 4])
    """
    first = parts[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(list(parts))
    if isinstance(first, np.ndarray):
        return np.concatenate(list(parts))
    if isinstance(first, pd.DataFrame):
        return pd.concat(list(parts), ignore_index=True)
    if isinstance(first, dict):
        return {k: combine([p[k] for p in parts]) for k in first}
    if isinstance(first, tuple):
        return tuple(combine([p[i] for p in parts]) for i in range(len(first)))
    if isinstance(first, list):
        return [v for p in parts for v in p]
    if first is None:
        return None
    raise TypeError(f"chunk outputs must be tensors, arrays, data frames, lists, dicts or tuples of them, got "
                    f"{type(first).__name__}")


def _reseed(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def map_chunks(fn: Callable[..., Any], tensors: Sequence[torch.Tensor], *, batch_size: int, seed: int,
               progress: bool = False, desc: str = "images") -> Any:
    """``fn(chunk, *slices)`` over chunks of ``batch_size`` images of ``tensors`` (same length), this rank's share
    of them, gathered from every rank and combined in chunk order (:func:`combine`), on every rank.

    >>> out = map_chunks(lambda c, x: x * 2, [torch.arange(5)], batch_size=2, seed=0)
    >>> out
    tensor([0, 2, 4, 6, 8])
    """
    if not tensors:
        raise ValueError("map_chunks needs at least one tensor to split into chunks")
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"the tensors split into chunks differ in length: {[len(t) for t in tensors]}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rank, size = world()
    count = -(-n // batch_size)
    mine = range(rank, count, size)
    done: list[tuple[int, Any]] = []
    failure = None
    for j in tqdm(mine, desc=desc, disable=not progress or rank != 0 or len(mine) < 2, leave=False):
        lo, hi = j * batch_size, min(n, (j + 1) * batch_size)
        s = chunk_seed(seed, j)
        try:
            _reseed(s)
            chunk = Chunk(j, lo, hi, s, torch.Generator().manual_seed(s), np.random.default_rng(s))
            done.append((j, _cpu(fn(chunk, *(t[lo:hi] for t in tensors)))))
        except Exception as e:
            if size == 1:
                raise
            failure = e
            break
    parts = gather((done, None if failure is None else f"{type(failure).__name__}: {failure}"))
    failed = [(r, msg) for r, (_, msg) in enumerate(parts) if msg is not None]
    if failed:
        if failure is not None:
            raise failure
        r, msg = failed[0]
        raise ShardError(f"process {r} of {size} failed, so every process stops: {msg}")
    outputs = sorted((pair for d, _ in parts for pair in d), key=lambda pair: pair[0])
    if not outputs:
        raise ValueError("map_chunks got no images to work on")
    return combine([out for _, out in outputs])


__all__ = ["Chunk", "chunk_seed", "combine", "map_chunks"]
