"""robust_accuracy under a 2-process gloo group gives exactly the one-process numbers."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from optimist.core.data import subset
from optimist.core.evaluate import robust_accuracy
from optimist.core.models import build_model

N, BATCH = 100, 40  # three batches of 40, 40 and 20: the ranks get unequal shares


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, state: dict, x, y, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model = build_model("small-cnn", 10, 1, 28, mean=[0.286], std=[0.353])
        model.load_state_dict(state)
        res = robust_accuracy(model, [(x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, N, BATCH)], "linf:0.1",
                              steps=10, square_queries=50, progress=False)
        torch.save({"clean": res.clean_correct, "robust": res.robust_correct, "stages": res.stages,
                    "settings": res.settings}, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_gloo_equals_one_process(small_pair, fmnist_test, tmp_path):
    model = small_pair["robust"]
    data = subset(fmnist_test, N, seed=3)
    x = torch.stack([data[i][0] for i in range(N)])
    y = torch.tensor([int(data[i][1]) for i in range(N)])
    batches = [(x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, N, BATCH)]
    single = robust_accuracy(model, batches, "linf:0.1", steps=10, square_queries=50, progress=False)
    out = str(tmp_path / "shard")
    mp.spawn(_worker, args=(2, _free_port(), model.state_dict(), x, y, out), nprocs=2, join=True)
    for rank in range(2):
        got = torch.load(f"{out}.{rank}", weights_only=True)
        assert torch.equal(got["clean"], single.clean_correct)
        assert torch.equal(got["robust"], single.robust_correct)
        counts = [(st["stage"], st["attacked"], st["broke"]) for st in single.stages]
        assert [(st["stage"], st["attacked"], st["broke"]) for st in got["stages"]] == counts
        assert got["settings"]["world_size"] == 2
    assert 0 < single.robust_correct.sum() < single.clean_correct.sum()  # the attack did something
