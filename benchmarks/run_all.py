"""Run every benchmark in turn (minutes; AutoAttack on 1,000 images dominates)."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
for script in ("attack_throughput.py", "training_speed.py", "eval_vs_autoattack.py"):
    print(f"=== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=True, cwd=HERE)
