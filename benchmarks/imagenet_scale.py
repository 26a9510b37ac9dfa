"""Every application at ImageNet scale: a random-weight ResNet-50 at 224x224 on a ten-class image folder.

This measures cost, not science (random weights). Each application runs as its own ``optimist APP`` process with
default settings (transfer's shots excepted: 1, 2 and all, what the folder holds) and ``--images N``; per
application it prints seconds, seconds per image and peak resident memory (of the process, or of the largest
process under torchrun), and with ``--two-process`` the time of ``torchrun --standalone --nproc-per-node 2``
beside it (one-process / two-process time ratio). Writes ``results/NAME.{csv,md,json}`` after every
application.

    python benchmarks/imagenet_scale.py [--images 4] [--arch resnet50] [--apps geometry,shifts] [--two-process]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from optimist.core.threads import usable_cores
from timing import markdown

APPS = ("interpretability", "geometry", "generation", "shifts", "transfer")
RESULTS = Path(__file__).parent / "results"
#: the one setting that is not the default: transfer's shots must fit the folder's 3 training images a class of
#: its target (the default 1, 5, 10, 25, 100 and all are refused, with that fix named)
FOLDER_SETTINGS = {"transfer": {"shots": (1, 2, "all")}}


def image_folder(root: Path, size: int = 224, classes: int = 10, train: int = 12, test: int = 6) -> Path:
    """``root/train/cK`` and ``root/test/cK``: smooth random colour images, ``train``/``test`` per class."""
    rng = np.random.default_rng(0)
    for split, per in (("train", train), ("test", test)):
        for c in range(classes):
            folder = root / split / f"c{c}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per):
                coarse = rng.uniform(0, 255, (8, 8, 3)).astype(np.uint8)
                Image.fromarray(coarse).resize((size, size), Image.BICUBIC).save(folder / f"{i}.png")
    return root


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def run(cmd: list[str], env: dict) -> tuple[float, float, int, str]:
    """(seconds, peak resident GB of the largest process, exit code, last lines of output) of one command."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        log.seek(0)
        tail = "".join(log.readlines()[-5:])
    code = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 2**20, code, tail  # ru_maxrss is in KiB on Linux


def scale_rows(apps: list[str], *, spec: str, data: str, images: int, work: Path,
               settings: dict[str, dict] | None = None, two_process: bool = False, device: str = "cpu") -> list[dict]:
    """Each application as its own ``optimist APP`` process on two copies of ``spec`` and ``data`` with
    ``--images N``: seconds, seconds per image, peak resident memory; with ``two_process`` the same under
    ``torchrun --standalone --nproc-per-node 2`` beside it. ``settings``: extra settings per application."""
    cores = usable_cores()
    # every core for one process, half each for two: the load-aware default would count the previous run's load
    env = {**os.environ, "OPTIMIST_HOME": str(work / "home"), "OPTIMIST_THREADS": str(cores)}
    rows = []
    for app in apps:
        extra = dict((settings or {}).get(app, {}))
        count = int(extra.pop("n", images))  # an application's own image count (its tiny settings) wins
        common = [app, "--model", f"standard={spec}", "--model", f"robust={spec}", "--data", data,
                  "--images", str(count), "--device", device, "--no-progress"]
        for key, value in extra.items():
            common += ["--set", f"{key}={json.dumps(list(value) if isinstance(value, tuple) else value)}"]
        seconds, peak, code, tail = run([_bin("optimist"), *common, "--out", str(work / app)], env)
        row = {"application": app, "images": count, "seconds": round(seconds, 1),
               "seconds_per_image": round(seconds / count, 2), "peak_gb": round(peak, 2), "exit": code}
        if code != 0:
            print(f"{app} failed (exit {code}):\n{tail}")
        if two_process:
            half = str(max(1, cores // 2))
            two_env = {**env, "OMP_NUM_THREADS": half, "OPTIMIST_THREADS": half}
            s2, peak2, code2, tail2 = run([_bin("torchrun"), "--standalone", "--nproc-per-node", "2",
                                           _bin("optimist"), *common, "--out", str(work / f"{app}-2")], two_env)
            row.update(two_process_seconds=round(s2, 1), two_process_peak_gb=round(peak2, 2),
                       one_over_two=round(seconds / s2, 2), two_process_exit=code2)
            if code2 != 0:
                print(f"{app} under torchrun failed (exit {code2}):\n{tail2}")
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False), flush=True)
    return rows


def save(rows: list[dict], about: dict, name: str) -> None:
    """``results/NAME.{csv,md,json}``: the rows so far, with the command, model, machine and date."""
    table = pd.DataFrame(rows)
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / f"{name}.csv", index=False)
    (RESULTS / f"{name}.md").write_text(markdown(table) + "\n")
    (RESULTS / f"{name}.json").write_text(json.dumps({**about, "rows": rows}, indent=2))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=4, help="test images per application (default: %(default)s)")
    p.add_argument("--arch", default="resnet50", help="torchvision architecture (default: %(default)s)")
    p.add_argument("--size", type=int, default=224, help="image side in pixels (default: %(default)s)")
    p.add_argument("--apps", default=",".join(APPS), help="applications, comma-separated (default: all)")
    p.add_argument("--two-process", action="store_true", help="also run each under torchrun with 2 processes")
    p.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    p.add_argument("--name", default="imagenet_scale", help="results file name (default: %(default)s)")
    args = p.parse_args(argv)
    spec = f"torchvision:{args.arch}?num_classes=10&image_size={args.size}"
    work = Path(tempfile.mkdtemp(prefix="optimist-scale-"))
    data = f"imagefolder:{image_folder(work / 'images', args.size)}?size={args.size}"
    about = {"command": " ".join(["python", "benchmarks/imagenet_scale.py", *(argv or sys.argv[1:])]), "model": spec,
             "machine": platform.processor() or platform.machine(), "cpus": usable_cores(),
             "date": time.strftime("%Y-%m-%d")}
    rows = []
    for app in args.apps.split(","):  # the files are rewritten after every application: a stopped run keeps its rows
        rows += scale_rows([app], spec=spec, data=data, images=args.images, work=work, settings=FOLDER_SETTINGS,
                           two_process=args.two_process, device=args.device)
        save(rows, about, args.name)
    print()
    print(markdown(pd.DataFrame(rows)))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["exit"] == 0 and r.get("two_process_exit", 0) == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
