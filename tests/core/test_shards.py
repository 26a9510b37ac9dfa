"""Per-image work in fixed chunks: the same numbers in one process and in two (gloo), one error for a failed rank."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from optimist.core.application import prepare
from optimist.core.application.batching import activation_bytes, auto_batch_size
from optimist.core.application.shards import map_chunks
from optimist.core.errors import ShardError
from optimist.core.settings import Settings

N, BATCH = 11, 3  # four chunks of 3, 3, 3 and 2: the ranks get unequal shares


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _work(chunk, x):
    """Randomness from the chunk's generator and from the (reseeded) global generator, plus the chunk's place."""
    noise = torch.randn(x.shape, generator=chunk.generator) + torch.rand(x.shape)
    return {"value": x + noise, "start": [chunk.start] * chunk.size}


def _fail_on_chunk_one(chunk, x):
    if chunk.index == 1:
        raise ValueError("chunk one holds a bad image")
    return x


def _worker(rank: int, world: int, port: int, x, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        got = map_chunks(_work, [x], batch_size=BATCH, seed=5)
        try:
            map_chunks(_fail_on_chunk_one, [x], batch_size=BATCH, seed=5)
            error = None
        except Exception as e:  # noqa: BLE001 - the test records which error each rank raised
            error = f"{type(e).__name__}: {e}"
        torch.save({"value": got["value"], "start": torch.tensor(got["start"]), "error": error}, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


def test_two_processes_give_the_one_process_chunks_and_one_error(tmp_path):
    x = torch.arange(N, dtype=torch.float32).reshape(N, 1)
    single = map_chunks(_work, [x], batch_size=BATCH, seed=5)
    assert single["start"] == [0, 0, 0, 3, 3, 3, 6, 6, 6, 9, 9]
    out = str(tmp_path / "shard")
    mp.spawn(_worker, args=(2, _free_port(), x, out), nprocs=2, join=True)
    errors = []
    for rank in range(2):
        got = torch.load(f"{out}.{rank}", weights_only=True)
        assert torch.equal(got["value"], single["value"])  # bit for bit, whichever rank ran a chunk
        assert got["start"].tolist() == single["start"]
        errors.append(got["error"])
    # chunk 1 runs on rank 1: it raises its own error, rank 0 a ShardError that names rank 1 and the error
    assert errors[1] == "ValueError: chunk one holds a bad image"
    assert errors[0].startswith("ShardError: process 1 of 2 failed") and "chunk one holds a bad image" in errors[0]


def test_one_process_raises_the_chunks_own_error():
    with pytest.raises(ValueError, match="bad image"):
        map_chunks(_fail_on_chunk_one, [torch.zeros(6, 1)], batch_size=3, seed=0)
    assert issubclass(ShardError, RuntimeError)


def test_the_chunks_do_not_depend_on_the_batches_of_an_earlier_run():
    x = torch.zeros(7, 2)
    a = map_chunks(_work, [x], batch_size=2, seed=1)["value"]
    b = map_chunks(_work, [x], batch_size=2, seed=1)["value"]
    c = map_chunks(_work, [x], batch_size=2, seed=2)["value"]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_the_batch_is_chosen_from_the_model_and_the_image_size():
    small = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(8, 10))
    big = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.LazyLinear(10))
    big(torch.zeros(1, 3, 224, 224))
    assert auto_batch_size([small], (3, 16, 16)) == 256  # capped
    per_image = activation_bytes(big, (3, 224, 224))
    assert per_image == 3 * 64 * 224 * 224 * 4 + 10 * 4  # conv, relu and flatten outputs, the logits
    assert auto_batch_size([big], (3, 224, 224), budget=per_image * 5 + 1) == 5
    assert auto_batch_size([small, big], (3, 224, 224), budget=per_image * 5 + 1) == 5  # the largest decides


class _WithBatch(Settings):
    batch_size: int | None = None


def test_prepare_records_the_batch_and_a_set_batch_size_wins():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    with prepare("demo", {"net": net}, "digits?n=20", settings=Settings()) as run:
        assert run.batch_size == 256 and run.record["batch_size"] == 256 and run.record["world_size"] == 1
        assert run.is_main and "backend" not in run.record
