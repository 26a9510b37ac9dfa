"""Copy finished zoo models from a training folder into the ``optimist-zoo`` package, with their hashes.

    python scripts/ship_zoo.py --root /work/zoo-train/zoo [NAMES...]

Each model must be trained by its current recipe and evaluated (``scripts/train_zoo.py``); its final
``model.safetensors`` and ``card.json`` go to ``packages/zoo/src/optimist/zoo/models/<name>/`` and the package's
``manifest.json`` gets the SHA-256 of both files; the package README's model table is rewritten from the cards.
Models already shipped and not named stay as they are.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from optimist.core import zoo
from optimist.core.checkpoints import load_model, read_card, resolve
from optimist.core.files import atomic_write_text
from optimist.core.shipped import MANIFEST, MANIFEST_FORMAT, file_sha256

ZOO = Path(__file__).resolve().parents[1] / "packages" / "zoo"
PACKAGE = ZOO / "src" / "optimist" / "zoo"
BEGIN, END = "<!-- models:begin -->", "<!-- models:end -->"
FILES = ("model.safetensors", "card.json")


def ship(name: str, root: Path, package: Path = PACKAGE) -> dict:
    """Copy one model into the package; returns its manifest entry."""
    src = resolve(zoo.model_dir(name, root))
    card = read_card(src)
    if "evaluation" not in card or not zoo.made_by(card, zoo.recipe(name)):
        raise SystemExit(f"{name} in {root} is not finished by its current recipe; run scripts/train_zoo.py first")
    load_model(src)  # its content hash holds
    dest = package / "models" / name
    dest.mkdir(parents=True, exist_ok=True)
    for file in FILES:
        shutil.copyfile(src / file, dest / file)
    return {"folder": f"models/{name}", "files": {f: file_sha256(dest / f) for f in FILES}}


def _pct(value) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def models_table(manifest: dict, package: Path = PACKAGE) -> str:
    """The README's table of shipped models, from their cards."""
    lines = ["| model | training | epochs | test clean % | test robust % (cascade) | AutoAttack % (gap, points) | "
             "held-out clean / PGD-10 %, last epoch |", "|---|---|---:|---:|---|---|---|"]
    for name, entry in manifest["models"].items():
        card = json.loads((package / entry["folder"] / "card.json").read_text())
        t, ev = card["training"], card["evaluation"]
        robust = ", ".join(f"{r['threat']} {_pct(r['robust_accuracy'])}" for r in ev["robust"])
        aa = [e for e in card.get("extra_evaluations", []) if e.get("attack") == "autoattack"]
        audit = "; ".join(f"{e['threat']} {_pct(e['robust_accuracy'])} ({e['gap_points']:+.1f})" for e in aa)
        last = t["history"][-1]
        held = _pct(last.get("holdout_clean_acc"))
        if "holdout_pgd10_acc" in last:
            held += f" / {_pct(last['holdout_pgd10_acc'])}"
        what = t["method"] if not t.get("threat") else f"{t['method']} {t['threat']}"
        lines.append(f"| `{name}` | {what}, seed {t['seed']} | {t['epochs']} | {_pct(ev['clean_accuracy'])} | "
                     f"{robust} | {audit or '-'} | {held} |")
    return "\n".join(lines)


def write_readme(manifest: dict) -> None:
    readme = ZOO / "README.md"
    text = readme.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    atomic_write_text(readme, f"{head}{BEGIN}\n{models_table(manifest)}\n{END}{tail}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="models to ship (default: every finished shipped recipe)")
    parser.add_argument("--root", required=True, type=Path, help="the training folder of scripts/train_zoo.py")
    args = parser.parse_args(argv)
    names = args.names or [n for n, r in zoo.recipes().items()
                           if "shipped" in r.tags and zoo.is_cached(n, args.root)]
    path = PACKAGE / MANIFEST
    manifest = json.loads(path.read_text()) if path.is_file() else {"format": MANIFEST_FORMAT, "models": {}}
    for name in names:
        manifest["models"][name] = ship(name, args.root)
        print(f"shipped {name}")
    manifest["models"] = dict(sorted(manifest["models"].items()))
    atomic_write_text(path, json.dumps(manifest, indent=2) + "\n")
    write_readme(manifest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
