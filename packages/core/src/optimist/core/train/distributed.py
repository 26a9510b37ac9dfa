"""torchrun support: process-group set-up, DDP wrapping, and rank-0-only writes."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class Context:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup() -> Context:
    """Join the process group when launched by torchrun (gloo on CPU, nccl on CUDA); a no-op otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Context(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        device, backend = torch.device("cuda", local), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend)
    return Context(rank=rank, world_size=world, device=device, owns_group=owns)


def wrap(model: nn.Module, ctx: Context) -> nn.Module:
    if ctx.world_size <= 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def average_record(record: dict, ctx: Context) -> dict:
    """Average the numeric entries of an epoch record over processes."""
    if ctx.world_size <= 1:
        return record
    keys = [k for k, v in record.items() if isinstance(v, float)]
    t = torch.tensor([record[k] for k in keys], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    t /= ctx.world_size
    return {**record, **{k: v for k, v in zip(keys, t.tolist())}}


def barrier(ctx: Context) -> None:
    if ctx.world_size > 1:
        dist.barrier()


def teardown(ctx: Context) -> None:
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()
