"""The report opens with the showcase picture that the demo composes from two applications' figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from optimist.core.demo import SHOWCASE_PARTS, showcase_figure  # noqa: E402
from optimist.core.report import Report  # noqa: E402


def test_the_showcase_opens_the_report(tmp_path):
    figures = tmp_path / "figures"
    figures.mkdir()
    assert showcase_figure(figures) is None  # the demos that draw its parts did not run
    for i, (name, _) in enumerate(SHOWCASE_PARTS):
        plt.imsave(figures / name, [[0.0, 1.0 * i], [0.5, 0.2]], cmap="gray")
    report = Report(tmp_path, "t")
    section = report.section("Geometry")
    section.claims.append({"section": "Geometry", "claim": "c", "metric": "m", "standard": 1.0, "robust": 2.0,
                           "difference": 1.0, "interval": "[+1, +1]", "verdict": "✅"})
    report.lead(showcase_figure(figures), "robust versus standard")
    page = report.write().read_text()
    assert (figures / "showcase.png").stat().st_size > 0
    assert 0 < page.index('alt="showcase"') < page.index("Claims at a glance")
