"""Put a report's measured claims and figures into the docs: ``python scripts/readme_tables.py REPORT_DIR``.

Copies ``REPORT_DIR/claims.csv`` (written by every ``optimist demo``) to ``docs/results/claims.csv`` and the
report's figures named in ``DOC_FIGURES`` to ``docs/figures/``, then rewrites two generated blocks between
``<!-- claims:begin -->`` and ``<!-- claims:end -->`` from the claims:

- ``README.md``: the claims at a glance, one line per claim (the rows of one section, claim and pair of models),
  with its overall verdict (:func:`overall`) and the difference of its headline judge (its first row);
- ``docs/claims.md``: every row, one per judge, with its verdict in words.

Without REPORT_DIR it rewrites both blocks from the committed ``docs/results/claims.csv``. ``--check`` only
compares: exit 1 when either block differs from what the committed file renders to.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import pandas as pd

from optimist.core.report import VERDICT_WORDS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "claims.csv"
CLAIMS_PAGE = ROOT / "docs" / "claims.md"
FIGURES = ROOT / "docs" / "figures"
BEGIN, END = "<!-- claims:begin -->", "<!-- claims:end -->"
#: the demo report's figures that the docs show (same file names under docs/figures)
DOC_FIGURES = ("showcase.png", "interpretability-gradients.png", "generation-overview.png",
               "generation-class-generation.png", "geometry-frequency-margins.png", "geometry-margin-histograms.png",
               "shifts-examples.png", "shifts-per-corruption-accuracy.png", "shifts-fourier-heat-maps.png",
               "transfer-accuracy-vs-shots.png")
NEED = ("section", "claim", "metric", "standard", "robust", "difference", "low", "high", "verdict")

# VERDICT_WORDS: a judge's verdict (the glyph the claims tables store) -> the word the report and the docs print
_ALIASES = {"supports": "supports", "holds": "supports", "yes": "supports",
            "contradicts": "contradicts", "fails": "contradicts", "no": "contradicts",
            "inconclusive": "inconclusive", "no difference": "inconclusive", "tie": "inconclusive",
            "—": "inconclusive", "": "inconclusive"}


def verdict_word(verdict) -> str:
    """One judge's verdict as a word: supports, contradicts or inconclusive (the interval includes 0)."""
    text = "" if pd.isna(verdict) else str(verdict).strip()
    word = VERDICT_WORDS.get(text) or _ALIASES.get(text.lower())
    if word is None:
        raise ValueError(f"unknown verdict {verdict!r} in the claims table; known: "
                         f"{', '.join(list(VERDICT_WORDS) + sorted(set(_ALIASES) - {''}))}")
    return word


def overall(words: list[str]) -> str:
    """A claim's verdict over its judges' verdicts.

    ``holds``: every judge supports it; ``partly holds``: some support it and none contradicts it; ``mixed``:
    some support it and some contradict it; ``fails``: some contradict it and none supports it;
    ``inconclusive``: no judge's interval excludes 0.

    >>> overall(["supports", "supports"]), overall(["supports", "inconclusive"]), overall(["inconclusive"])
    ('holds', 'partly holds', 'inconclusive')
    >>> overall(["supports", "contradicts"]), overall(["contradicts", "inconclusive"])
    ('mixed', 'fails')
    """
    pro, con = words.count("supports"), words.count("contradicts")
    if pro and not con:
        return "holds" if pro == len(words) else "partly holds"
    if pro and con:
        return "mixed"
    return "fails" if con else "inconclusive"


def _num(v) -> str:
    return "—" if pd.isna(v) else f"{v:.3g}"


def _signed(v) -> str:
    return "—" if pd.isna(v) else "0" if v == 0 else f"{v:+.3g}"


def _difference(r) -> str:
    return f"{_signed(r.difference)} [{_signed(r.low)}, {_signed(r.high)}]"


def _checked(claims: pd.DataFrame) -> pd.DataFrame:
    missing = set(NEED) - set(claims.columns)
    if missing:
        raise ValueError(f"claims table lacks columns {sorted(missing)}")
    claims = claims.copy()
    if "models" not in claims.columns:
        claims["models"] = ""
    claims["models"] = claims["models"].fillna("")
    claims["word"] = [verdict_word(v) for v in claims["verdict"]]
    return claims


def render(claims: pd.DataFrame) -> str:
    """Every row of the claims table (one per judge) as markdown, its verdict in words."""
    claims = _checked(claims)
    lines = ["| application | claim | models | judge (metric) | standard | robust | "
             "robust − standard [95% interval] | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for r in claims.itertuples():
        lines.append(f"| {r.section} | {r.claim} | {r.models} | {r.metric} | {_num(r.standard)} | {_num(r.robust)} | "
                     f"{_difference(r)} | {r.word} |")
    return "\n".join(lines)


def render_short(claims: pd.DataFrame) -> str:
    """One line per claim (section, claim, models): overall verdict, judges' tally, the headline judge's difference.

    The headline judge is the claim's first row in the claims table.
    """
    claims = _checked(claims)
    lines = ["| application | claim | models | verdict | judges for / against / inconclusive | "
             "headline judge: robust − standard [95% interval] |",
             "|---|---|---|---|---|---|"]
    for (section, claim, models), rows in claims.groupby(["section", "claim", "models"], sort=False):
        words = list(rows["word"])
        head = next(rows.itertuples())
        tally = f"{words.count('supports')} / {words.count('contradicts')} / {words.count('inconclusive')}"
        lines.append(f"| {section} | {claim} | {models} | {overall(words)} | {tally} | "
                     f"{head.metric}: {_difference(head)} |")
    return "\n".join(lines)


def replace_block(text: str, table: str, where: str = "the README") -> str:
    if BEGIN not in text or END not in text:
        raise ValueError(f"{where} has no {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("report", nargs="?",
                   help="report folder holding claims.csv (omitted: render from the committed claims.csv)")
    p.add_argument("--readme", default=str(ROOT / "README.md"))
    p.add_argument("--page", default=str(CLAIMS_PAGE), help="the docs page of the full claims table")
    p.add_argument("--check", action="store_true",
                   help="compare the README and the claims page with docs/results/claims.csv")
    args = p.parse_args(argv)
    if args.report and not args.check:
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
    claims = pd.read_csv(RESULTS)
    targets = [(Path(args.readme), render_short(claims)), (Path(args.page), render(claims))]
    stale = []
    for path, table in targets:
        text = path.read_text()
        new = replace_block(text, table, where=str(path))
        if new == text:
            continue
        if args.check:
            stale.append(path)
        else:
            path.write_text(new)
            print(f"{path.name}: claims block rewritten from {RESULTS.relative_to(ROOT)}")
    if stale:
        print(f"readme_tables: the claims block of {', '.join(map(str, stale))} differs from "
              f"{RESULTS.relative_to(ROOT)}; run `python scripts/readme_tables.py` (from the committed file) or "
              "`python scripts/readme_tables.py REPORT_DIR` (from a new report)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
