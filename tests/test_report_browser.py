"""The demo report, rendered in headless Chromium at 1280 px: pictures first, verdicts that render anywhere.

Slow (a demo run plus a browser); `make test-slow` installs Chromium where it can (`scripts/setup-browser.sh`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from optimist.core.demo import DemoOptions, run_demos

pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 1280, 800
APPLICATIONS = ["interpretability", "generation", "transfer", "shifts", "geometry"]

# Runs in the page: per application section, where its first figure and its first long visible table lie.
PROBE = """
<script>
window.addEventListener('load', () => {
  const out = {height: window.innerHeight, sections: [], verdicts: [], symbols: 0};
  const heads = Array.from(document.querySelectorAll('h2[id]'));
  for (const [i, h] of heads.entries()) {
    const next = heads[i + 1];
    const inside = el => (h.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) &&
                         (!next || (next.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_PRECEDING));
    const top = h.getBoundingClientRect().top + window.scrollY;
    const fig = Array.from(document.querySelectorAll('figure img')).find(inside);
    const long = Array.from(document.querySelectorAll('table')).filter(inside)
      .find(t => t.rows.length > 21 && t.getBoundingClientRect().height > 0);
    out.sections.push({id: h.id, top: top,
      figure: fig ? fig.getBoundingClientRect().top + window.scrollY : null,
      long_table: long ? long.getBoundingClientRect().top + window.scrollY : null});
  }
  for (const v of document.querySelectorAll('.verdict')) {
    out.verdicts.push({text: v.textContent, width: v.getBoundingClientRect().width});
  }
  out.symbols = (document.body.innerText.match(/[\\u2705\\u274c]/g) || []).length;
  const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no Chromium on this machine: `make test-slow` installs it with scripts/setup-browser.sh "
                "(apt-get install chromium), which needs root or sudo")


def test_report_opens_each_section_with_pictures_and_readable_verdicts(tmp_path):
    browser = _chromium()
    run_demos(["core", *APPLICATIONS], DemoOptions(out_dir=tmp_path, quick=True))
    page = (tmp_path / "index.html").read_text()
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"))
    dom = subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                          f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=10000", "--dump-dom",
                          probed.as_uri()], capture_output=True, text=True, timeout=180)
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert match, dom.stderr[-2000:]
    layout = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    sections = {s["id"]: s for s in layout["sections"]}
    for app in APPLICATIONS:
        s = sections[app]
        assert s["figure"] is not None, f"{app}: no figure"
        assert s["figure"] - s["top"] <= layout["height"], f"{app}: first figure {s['figure'] - s['top']:.0f} px down"
        if s["long_table"] is not None:
            assert s["figure"] < s["long_table"], f"{app}: a table of more than 20 rows comes before its figure"
    assert layout["verdicts"], "no verdict rendered"
    for v in layout["verdicts"]:
        assert v["text"] in ("supports", "contradicts", "inconclusive") and v["width"] > 20, v
    assert layout["symbols"] == 0  # no ✅/❌ left to need a colour-emoji font
