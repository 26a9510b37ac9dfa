"""Run every benchmark in turn (about 35 min; AutoAttack on four models dominates)."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
for script in ("attack_throughput.py", "training_speed.py", "eval_vs_autoattack.py"):
    print(f"=== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=True, cwd=HERE)
