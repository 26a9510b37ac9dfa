"""Put a report's measured claims and figures into the docs: ``python scripts/readme_tables.py REPORT_DIR``.

Copies ``REPORT_DIR/claims.csv`` (written by every ``optimist demo``) to ``docs/results/claims.csv``, the report's
figures named in ``DOC_FIGURES`` to ``docs/figures/``, and rewrites the README's block between
``<!-- claims:begin -->`` and ``<!-- claims:end -->`` from the claims, so the README's headline numbers and pictures
are one command away from a report. ``--check`` only compares: exit 1 when the README block differs from what the
committed ``docs/results/claims.csv`` renders to.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "claims.csv"
FIGURES = ROOT / "docs" / "figures"
BEGIN, END = "<!-- claims:begin -->", "<!-- claims:end -->"
#: the demo report's figures that the docs show (same file names under docs/figures)
DOC_FIGURES = ("interpretability-gradients.png", "generation-overview.png", "generation-class-generation.png",
               "geometry-frequency-margins.png", "geometry-margin-histograms.png", "shifts-examples.png",
               "shifts-per-corruption-accuracy.png", "shifts-fourier-heat-maps.png", "transfer-accuracy-vs-shots.png")


def _num(v) -> str:
    return "—" if pd.isna(v) else f"{v:.3g}"


def render(claims: pd.DataFrame) -> str:
    """The claims as a markdown table: section, claim, metric, standard, robust, difference [interval], verdict."""
    need = {"section", "claim", "metric", "standard", "robust", "difference", "low", "high", "verdict"}
    missing = need - set(claims.columns)
    if missing:
        raise ValueError(f"claims table lacks columns {sorted(missing)}")
    lines = ["| application | claim | metric | standard | robust | robust − standard [95% interval] | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in claims.itertuples():
        models = f" ({r.models})" if "models" in claims.columns and not pd.isna(r.models) else ""
        lines.append(f"| {r.section} | {r.claim}{models} | {r.metric} | {_num(r.standard)} | {_num(r.robust)} | "
                     f"{_num(r.difference)} [{_num(r.low)}, {_num(r.high)}] | {r.verdict} |")
    return "\n".join(lines)


def replace_block(text: str, table: str) -> str:
    if BEGIN not in text or END not in text:
        raise ValueError(f"the README has no {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("report", nargs="?", help="report folder holding claims.csv (omit with --check)")
    p.add_argument("--readme", default=str(ROOT / "README.md"))
    p.add_argument("--check", action="store_true", help="compare the README with docs/results/claims.csv")
    args = p.parse_args(argv)
    readme = Path(args.readme)
    if not args.check:
        if not args.report:
            p.error("give the report folder, e.g. optimist-report")
        src = Path(args.report) / "claims.csv"
        if not src.is_file():
            print(f"readme_tables: no claims.csv in {args.report}; run `optimist demo --out {args.report}` first",
                  file=sys.stderr)
            return 2
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, RESULTS)
        for name in DOC_FIGURES:
            figure = Path(args.report) / "figures" / name
            if figure.is_file():
                shutil.copyfile(figure, FIGURES / name)
            else:
                print(f"readme_tables: the report has no figures/{name}; docs/figures keeps its old one",
                      file=sys.stderr)
    text = readme.read_text()
    new = replace_block(text, render(pd.read_csv(RESULTS)))
    if args.check:
        if new != text:
            print("readme_tables: the README's claims block differs from docs/results/claims.csv", file=sys.stderr)
            return 1
        return 0
    readme.write_text(new)
    print(f"README claims block rewritten from {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
