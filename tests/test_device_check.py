"""The device check, ready for a GPU: ``benchmarks/device_check.py --device cpu --tiny`` runs every part."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_device_check_tiny_on_cpu_writes_all_three_tables(tmp_path):
    out = tmp_path / "device_check.md"
    res = subprocess.run([sys.executable, "device_check.py", "--device", "cpu", "--tiny", "--out", str(out)],
                         cwd=BENCHMARKS, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    text = out.read_text()
    assert "Device: CPU" in text and "--device cpu --tiny" in text
    for heading in ("## 1. PGD-10 L-inf", "## 2. Default evaluation vs the official AutoAttack",
                    "## 3. Every application"):
        assert heading in text
    # both attack implementations measured, the evaluation gap and every application's row with exit 0
    assert "| torchattacks |" in text and "| optimist |" in text
    apps = [line for line in text.splitlines() if line.startswith("| ") and line.rstrip().endswith("| 0 |")]
    assert {line.split("|")[1].strip() for line in apps} >= {"interpretability", "geometry", "generation",
                                                             "shifts", "transfer"}
