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

from optimist.core.checkpoints import atomic_write_text


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"


@dataclass
class Section:
    """One application's part of the report."""

    title: str
    out_dir: Path
    items: list[tuple[str, str]] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return _slug(self.title)

    def add_text(self, text: str) -> None:
        """A paragraph (plain text; blank lines separate paragraphs)."""
        for para in text.strip().split("\n\n"):
            self.items.append(("text", f"<p>{html.escape(para.strip())}</p>"))

    def add_figure(self, fig, name: str, caption: str = "") -> Path:
        """Save a matplotlib figure as PNG and embed it."""
        import matplotlib.pyplot as plt

        path = self.out_dir / "figures" / f"{self.slug}-{_slug(name)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        data = buf.getvalue()
        path.write_bytes(data)
        b64 = base64.b64encode(data).decode()
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.items.append(("figure", f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{b64}"/>'
                                     f"{cap}</figure>"))
        return path

    def add_table(self, df, name: str, caption: str = "", float_format: str = "{:.4g}") -> Path:
        """Save a pandas DataFrame as CSV and embed it as an HTML table."""
        path = self.out_dir / "tables" / f"{self.slug}-{_slug(name)}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=True)
        table = df.to_html(float_format=lambda v: float_format.format(v), border=0, classes="table")
        cap = f"<p class='caption'>{html.escape(caption)}</p>" if caption else ""
        self.items.append(("table", f"<h3>{html.escape(name)}</h3>{cap}{table}"))
        return path

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
"""


class Report:
    """Collects sections and writes ``index.html`` (self-contained) into ``out_dir``."""

    def __init__(self, out_dir: str | Path, title: str = "Optimist report"):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.title = title
        self.sections: list[Section] = []

    def section(self, title: str) -> Section:
        s = Section(title, self.out_dir)
        self.sections.append(s)
        return s

    def write(self) -> Path:
        toc = "".join(f'<li><a href="#{s.slug}">{html.escape(s.title)}</a></li>' for s in self.sections)
        body = "".join(f'<h2 id="{s.slug}">{html.escape(s.title)}</h2>' + "".join(h for _, h in s.items)
                       for s in self.sections)
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{_STYLE}</style></head><body><h1>{html.escape(self.title)}</h1><ul>{toc}</ul>{body}"
                "</body></html>")
        path = self.out_dir / "index.html"
        atomic_write_text(path, page)
        return path
