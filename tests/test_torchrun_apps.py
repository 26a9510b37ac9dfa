"""Every application under ``torchrun --standalone --nproc-per-node 2`` (gloo, CPU) gives the one-process table.

The ranks share the per-image work (``run.map``: fixed chunks, one seeded generator per chunk) and gather it, so
the table and the per-image rows equal the one-process run's to 1e-6; rank 0 alone writes, and its settings
record the world size and the backend. A chunk that fails stops both processes with one error and no report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimist.core.application import available_applications
from optimist.core.testing import reference_models

APPS = available_applications()
BIN = Path(sys.executable).parent
DATA = "fashion-mnist?n=120"
#: the application's tiny settings, with chunks small enough that both processes get several
SMALL_BATCH = {"batch_size": 3}


def _command(name: str, models: dict, out: Path) -> list[str]:
    app = APPS[name]
    settings = {**app.tiny_settings, **SMALL_BATCH} if "batch_size" in app.settings.keys() else app.tiny_settings
    cmd = [name, "--data", DATA, "--no-progress", "--seed", "3", "--out", str(out)]
    for label, spec in models.items():
        cmd += ["--model", f"{label}={spec}"]
    for key, value in settings.items():
        cmd += ["--set", f"{key}={json.dumps(list(value) if isinstance(value, tuple) else value)}"]
    return cmd


def _run(cmd: list[str], tmp: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPTIMIST_HOME": str(tmp / "home")}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)


def _same(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b), what
    for c in a.columns:
        if pd.api.types.is_numeric_dtype(a[c]) and pd.api.types.is_numeric_dtype(b[c]):
            np.testing.assert_allclose(a[c].to_numpy(float), b[c].to_numpy(float), rtol=0, atol=1e-6,
                                       equal_nan=True, err_msg=f"{what}: column {c}")
        else:
            assert a[c].astype(str).tolist() == b[c].astype(str).tolist(), f"{what}: column {c}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(APPS))
def test_two_processes_give_the_one_process_table(name, tmp_path):
    models = reference_models("checkpoint", folder=tmp_path / "models")
    one, two = tmp_path / "one", tmp_path / "two"
    res = _run([str(BIN / "optimist"), *_command(name, models, one)], tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    res = _run([str(BIN / "torchrun"), "--standalone", "--nproc-per-node", "2", str(BIN / "optimist"),
                *_command(name, models, two)], tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("Report written to") == 1  # rank 0 alone writes
    _same(pd.read_csv(one / "table.csv"), pd.read_csv(two / "table.csv"), f"{name} table")
    _same(pd.read_csv(one / "per_example.csv"), pd.read_csv(two / "per_example.csv"), f"{name} per-example rows")
    settings = json.loads((two / "settings.json").read_text())
    assert settings["world_size"] == 2 and settings["backend"] == "gloo"
    assert json.loads((one / "settings.json").read_text())["world_size"] == 1
