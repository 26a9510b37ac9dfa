"""A self-contained HTML report: sections of text, figures (PNG, embedded) and tables (pandas).

Figures and tables are also written as PNG and CSV files beside ``index.html`` so they can be reused.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from optimist.core.files import atomic_write_bytes, atomic_write_text


def _slug(text: str) -> str:
    """A file-name-safe slug of at most 90 characters (a long title cut at a word, never past a file-name limit)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"
    return slug if len(slug) <= 90 else slug[:90].rsplit("-", 1)[0]


#: tables longer than this fold away in the report
FOLD_ROWS = 20
#: a claim verdict's symbol (as the claims tables store it) and the word the report shows instead
VERDICT_WORDS = {"✅": "supports", "❌": "contradicts", "≈": "inconclusive"}


def _verdict_words(df):
    """``df`` with its ``verdict`` column (if any) in words: the symbols need a colour-emoji font to render."""
    if "verdict" not in getattr(df, "columns", ()):
        return df
    return df.assign(verdict=df["verdict"].map(lambda v: VERDICT_WORDS.get(v, v)))


def _badges(table_html: str) -> str:
    """Verdict words in an HTML table as styled badges."""
    for word in VERDICT_WORDS.values():
        table_html = table_html.replace(f"<td>{word}</td>", f"<td><span class='verdict {word}'>{word}</span></td>")
    return table_html


def _save_figure(fig, path: Path, name: str, caption: str) -> str:
    """Save a matplotlib figure as PNG at ``path``; returns the HTML that embeds it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = buf.getvalue()
    atomic_write_bytes(path, data)
    b64 = base64.b64encode(data).decode()
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{b64}"/>{cap}</figure>'


@dataclass
class Section:
    """One application's part of the report."""

    title: str
    out_dir: Path
    items: list[tuple[str, str]] = field(default_factory=list)
    claims: list[dict] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return _slug(self.title)

    def add_text(self, text: str) -> None:
        """A paragraph (plain text; blank lines separate paragraphs)."""
        for para in text.strip().split("\n\n"):
            self.items.append(("text", f"<p>{html.escape(para.strip())}</p>"))

    def add_figure(self, fig, name: str, caption: str = "") -> Path:
        """Save a matplotlib figure as PNG and embed it."""
        path = self.out_dir / "figures" / f"{self.slug}-{_slug(name)}.png"
        self.items.append(("figure", _save_figure(fig, path, name, caption)))
        return path

    def add_table(self, df, name: str, caption: str = "", float_format: str = "{:.4g}") -> Path:
        """Save a pandas DataFrame as CSV and embed it as an HTML table; one longer than ``FOLD_ROWS`` rows is
        folded away (``<details>``, with a link to its CSV) so that it never pushes the figures down."""
        path = self.out_dir / "tables" / f"{self.slug}-{_slug(name)}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=True)
        shown = _verdict_words(df)
        table = _badges(shown.to_html(float_format=lambda v: float_format.format(v), border=0, classes="table"))
        cap = f"<p class='caption'>{html.escape(caption)}</p>" if caption else ""
        if len(df) > FOLD_ROWS:
            link = f"<a href='tables/{path.name}'>{html.escape(path.name)}</a>"
            self.items.append(("table", f"<details class='long'><summary>{html.escape(name)} ({len(df)} rows; CSV: "
                                        f"{link})</summary>{cap}{table}</details>"))
        else:
            self.items.append(("table", f"<h3>{html.escape(name)}</h3>{cap}{table}"))
        return path

    def add_claims(self, claims) -> None:
        """Rows for the report's "claims at a glance" table (see :func:`optimist.core.application.claim`)."""
        rows = claims.to_dict("records") if hasattr(claims, "to_dict") else list(claims)
        self.claims.extend({"section": self.title, **r} for r in rows)

    def add_settings(self, settings: dict) -> Path:
        """Record the settings that produced this section (JSON beside the report, and shown inline)."""
        path = self.out_dir / "settings" / f"{self.slug}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(settings, indent=2, default=str)
        atomic_write_text(path, text)
        self.items.append(("settings", f"<details><summary>settings</summary><pre>{html.escape(text)}</pre></details>"))
        return path


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #444} h2{margin-top:2em;border-bottom:1px solid #bbb}
figure{margin:1em 0} img{max-width:100%} figcaption,.caption{color:#555;font-size:.9em}
table.table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
table.table td,table.table th{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:right}
pre{background:#f5f5f5;padding:.5em;overflow:auto;font-size:.8em}
.banner{background:#fff3cd;border:1px solid #e0c060;padding:.6em 1em;font-weight:bold;margin:1em 0}
table.claims td{text-align:left}
.verdict{display:inline-block;padding:0 .5em;border-radius:.7em;font-size:.85em;font-weight:600;color:#fff}
.verdict.supports{background:#2e7d32} .verdict.contradicts{background:#c62828} .verdict.inconclusive{background:#757575}
details.long{margin:.6em 0} details.long summary{cursor:pointer;font-weight:600}
"""


def provenance(command: list[str] | None = None) -> dict:
    """How a report was made: date, Optimist and library versions, git commit (when in a checkout), command."""
    import datetime
    import platform
    import subprocess
    import sys
    from importlib.metadata import distributions

    versions = {d.metadata["Name"]: d.version for d in distributions()
                if (d.metadata["Name"] or "").lower().startswith("optimist")}
    import torch

    versions.update({"torch": torch.__version__, "python": platform.python_version()})
    commit = None
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        if out.returncode == 0:
            dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            commit = out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        commit = None
    argv = command if command is not None else ["optimist", *sys.argv[1:]]
    return {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), "versions": versions,
            "commit": commit, "command": " ".join(argv)}


def _claims_table(rows: list[dict]) -> str:
    import pandas as pd

    df = _verdict_words(pd.DataFrame(rows))
    cols = [c for c in ("section", "claim", "metric", "standard", "robust", "difference", "interval", "verdict")
            if c in df.columns]
    return _badges(df[cols].to_html(index=False, border=0, classes="table claims",
                                    float_format=lambda v: f"{v:.3g}", escape=True))


class Report:
    """Collects sections and writes ``index.html`` (self-contained) into ``out_dir``.

    The page opens with how it was made (``provenance``), a banner when it is a smoke run, and the claims of
    every section at a glance; then the sections.
    """

    def __init__(self, out_dir: str | Path, title: str = "Optimist report", *, banner: str | None = None,
                 provenance: dict | None = None):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.title = title
        self.banner = banner
        self.provenance = provenance
        self.sections: list[Section] = []
        self.lead_html = ""

    def lead(self, fig, caption: str = "") -> Path:
        """The page's opening picture, above the claims: saved as ``figures/showcase.png``."""
        path = self.out_dir / "figures" / "showcase.png"
        self.lead_html = _save_figure(fig, path, "showcase", caption)
        return path

    def section(self, title: str) -> Section:
        s = Section(title, self.out_dir)
        self.sections.append(s)
        return s

    def write(self) -> Path:
        toc = "".join(f'<li><a href="#{s.slug}">{html.escape(s.title)}</a></li>' for s in self.sections)
        body = "".join(f'<h2 id="{s.slug}">{html.escape(s.title)}</h2>' + "".join(h for _, h in s.items)
                       for s in self.sections)
        head = ""
        if self.banner:
            head += f"<div class='banner'>{html.escape(self.banner)}</div>"
        if self.provenance:
            p = self.provenance
            versions = ", ".join(f"{k} {v}" for k, v in p.get("versions", {}).items())
            head += (f"<p class='caption'>Made {html.escape(str(p.get('date')))} by <code>"
                     f"{html.escape(str(p.get('command')))}</code>; commit {html.escape(str(p.get('commit')))}; "
                     f"{html.escape(versions)}.</p>")
        head += self.lead_html
        claims = [c for s in self.sections for c in s.claims]
        if claims:
            import pandas as pd

            head += ("<h2 id='claims'>Claims at a glance</h2><p class='caption'>One row per claim: the robust and "
                     "standard models' values, their difference with its 95% interval, and the verdict (supports: the "
                     "interval says robust is better; contradicts: it says robust is worse; inconclusive: it "
                     "includes no difference)."
                     "</p>" + _claims_table(claims))
            pd.DataFrame(claims).to_csv(self.out_dir / "claims.csv", index=False)
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{_STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>{head}<ul>{toc}</ul>"
                f"{body}</body></html>")
        path = self.out_dir / "index.html"
        atomic_write_text(path, page)
        return path
