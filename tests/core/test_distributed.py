"""The same training entry point under torchrun: 2 CPU processes, gloo backend, one checkpoint written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path):
    out = tmp_path / "ddp"
    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "optimist.core.cli", "train",
           "--method", "pgd", "--threat", "linf:0.1", "--attack-steps", "2", "--epochs", "2", "--subset", "1024",
           "--batch-size", "128", "--out", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("Trained small-cnn") == 1  # only rank 0 reports and writes
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert ckpts == ["epoch-0001", "epoch-0002"]
    card = json.loads((out / "checkpoints" / "epoch-0002" / "card.json").read_text())
    hist = card["training"]["history"]
    assert len(hist) == 2 and hist[1]["loss"] < hist[0]["loss"]
    from optimist.core.checkpoints import load_model

    load_model(out)
