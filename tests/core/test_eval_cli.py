"""`optimist eval` under torchrun (2 gloo processes) and `optimist zoo audit`."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from optimist.core import zoo
from optimist.core.checkpoints import read_card
from optimist.core.cli import main

ROBUST = "fashion-mnist/small-cnn/linf-0.1"


def _eval_cmd(path) -> list[str]:
    return ["-m", "optimist.core.cli", "eval", "--model", str(path), "--threat", "linf:0.1", "--images", "72",
            "--batch-size", "16", "--steps", "5", "--square-queries", "40"]


def _result_line(out: str) -> str:
    return next(line for line in out.splitlines() if line.strip().startswith("pgd"))


def _shipped(name: str = ROBUST):
    where, folder = zoo.source(name)
    assert where == "shipped", f"{name} is not shipped; run `make setup`"
    return folder


@pytest.mark.slow
def test_torchrun_eval_matches_one_process():
    path = _shipped()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, *_eval_cmd(path)], capture_output=True, text=True, env=env, timeout=300)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          *_eval_cmd(path)], capture_output=True, text=True, env=env, timeout=300)
    assert two.returncode == 0, two.stderr
    a, b = _result_line(one.stdout), _result_line(two.stdout)
    assert "2 processes" in b
    # the same clean and robust accuracy, to the digit
    assert a.split("(")[0] == b.split("(")[0]
    assert two.stdout.count("clean") == 1  # only rank 0 prints


def test_zoo_audit_records_autoattack(tmp_path, capsys):
    pytest.importorskip("pyautoattack")
    root = tmp_path / "zoo"
    shutil.copytree(_shipped(), zoo.model_dir(ROBUST, root))  # a cached copy: its card records the audit
    from optimist.core.audit import audit, robust_recipes

    assert ROBUST in robust_recipes(root) and "fashion-mnist/small-cnn/standard" not in robust_recipes(root)
    rows = audit([ROBUST], n=6, root=root, progress=False)
    assert [r["name"] for r in rows] == [ROBUST]
    card = read_card(zoo.model_dir(ROBUST, root))
    rec = next(e for e in card["extra_evaluations"] if e["attack"] == "autoattack")
    assert rec["n"] == 6 and rec["version"] == "standard" and rec["stages"][0]["stage"] == "apgd-ce"
    assert rec["gap_points"] == pytest.approx(rows[0]["gap_points"], abs=0.01)
    assert rec["default_robust_accuracy"] == round(rows[0]["default"], 4)
    json.dumps(card)  # the card stays plain JSON
    with pytest.raises(ValueError, match="standard \\(non-robust\\)"):
        audit(["fashion-mnist/small-cnn/standard"], root=root)
    with pytest.raises(ValueError, match="neither shipped nor cached"):
        audit(["fashion-mnist/small-cnn/trades-linf-0.1"], root=root)
    with pytest.raises(ValueError, match="unknown zoo model"):
        audit(["no/such/model"], root=root)


def test_eval_cli_autoattack_subset_and_errors(capsys):
    pytest.importorskip("pyautoattack")
    path = str(_shipped())
    assert main(["eval", "--model", path, "--threat", "linf:0.1", "--n", "8", "--steps", "5",
                 "--square-queries", "10", "--autoattack-attacks", "apgd-ce"]) == 0
    out = capsys.readouterr().out
    assert "autoattack" in out and "apgd-ce: broke" in out and "square: broke" in out
    assert main(["eval", "--model", path, "--threat", "linf:0.1", "--n", "8",
                 "--autoattack-attacks", "cw"]) == 2
    assert "unknown AutoAttack attack" in capsys.readouterr().err
