"""Markdown tables of a transfer-ladder report: ``python scripts/ladder_tables.py REPORT_DIR [REPORT_DIR ...]``.

Reads the CSV tables ``optimist demo transfer-ladder --out REPORT_DIR`` writes (results, gains, sources) and prints
them as the README shows them: accuracy per shots and budget, gain over the standard sources in points, and the
sources' own accuracies; every interval is over source training seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from optimist.transfer.protocols import shots_order


def _cols(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df.sort_values("epsilon")["model"]))


def render(folder: Path) -> str:
    tables = folder / "tables"
    res = pd.read_csv(tables / "transfer-ladder-results.csv", dtype={"shots": str})
    gain = pd.read_csv(tables / "transfer-ladder-gain-over-the-standard-sources.csv", dtype={"shots": str})
    src = pd.read_csv(tables / "transfer-ladder-sources.csv")
    settings = json.loads((folder / "settings" / "transfer-ladder.json").read_text()) \
        if (folder / "settings" / "transfer-ladder.json").is_file() else {}
    s = settings.get("settings", settings)
    head = f"{s.get('arch', '?')} sources ({s.get('source_classes', '?')} classes) → {s.get('target', '?')}"
    out = []
    models = _cols(res)
    out.append(f"| {head}: target accuracy | " + " | ".join(models) + " |")
    out.append("|---|" + "---|" * len(models))
    for k in shots_order(res["shots"]):
        row = res[res["shots"] == k].set_index("model")
        cells = [f"{row.at[m, 'value']:.3f} [{row.at[m, 'low']:.3f}, {row.at[m, 'high']:.3f}]" for m in models]
        out.append(f"| {k}-shot | " + " | ".join(cells) + " |")
    out.append("")
    robust = _cols(gain)
    out.append("| robust − standard (points) | " + " | ".join(robust) + " |")
    out.append("|---|" + "---|" * len(robust))
    for k in shots_order(gain["shots"]):
        row = gain[gain["shots"] == k].set_index("model")
        cells = []
        for m in robust:
            g, lo, hi = (100 * row.at[m, c] for c in ("gain", "ci_low", "ci_high"))
            bold = "**" if lo > 0 or hi < 0 else ""
            cells.append(f"{bold}{g:+.1f}{bold} [{lo:+.1f}, {hi:+.1f}]")
        out.append(f"| {k}-shot | " + " | ".join(cells) + " |")
    out.append("")
    rob = next(c for c in src.columns if c.startswith("robust accuracy"))
    out.append(f"| source (Fashion-MNIST test) | clean accuracy | {rob} |")
    out.append("|---|---|---|")
    for _, v in src.iterrows():
        out.append(f"| {v['source']} ({v['seeds']} seeds) | {v['clean accuracy']:.3f} [{v['clean low']:.3f}, "
                   f"{v['clean high']:.3f}] | {v[rob]:.3f} [{v['robust low']:.3f}, {v['robust high']:.3f}] |")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("reports", nargs="+", type=Path, help="folders written by optimist demo transfer-ladder --out")
    args = p.parse_args(argv)
    for folder in args.reports:
        if not (folder / "tables" / "transfer-ladder-results.csv").is_file():
            p.error(f"{folder} holds no transfer-ladder tables; run optimist demo transfer-ladder --out {folder}")
        print(render(folder), end="\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
