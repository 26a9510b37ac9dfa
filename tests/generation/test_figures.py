import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

from optimist.generation import TaskResult  # noqa: E402
from optimist.generation.figures import mosaic, overview, spread_columns, task_grid  # noqa: E402


def _result(n=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=g)
    y = torch.arange(n) % 10
    return TaskResult("class-generation", x, torch.zeros(n), x.flip(0), torch.ones(n), targets=y, reference=x)


def test_mosaic_places_every_tile():
    r = _result(4)
    m = mosaic([("a", r.images), ("b", r.seeds)], 3, pad=2)
    assert m.shape == (2 * 28 + 2, 3 * 28 + 2 * 2)
    assert torch.equal(m[:28, 30:58], r.images[1, 0])
    assert torch.equal(m[30:, :28], r.seeds[0, 0])
    assert (m[28:30] == 1).all()  # white gap between rows


def test_spread_columns_cover_distinct_classes():
    r = _result(20)
    idx = spread_columns(r, 5)
    assert r.targets[idx].tolist() == [0, 2, 4, 6, 8]


def test_grids_draw_one_axes_per_panel():
    results = {"standard": _result(), "robust": _result()}
    fig = task_grid(results, tuple(str(i) for i in range(10)), n=8, title="t")
    assert len(fig.axes) == 1
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["seed", "standard", "robust", "ground truth"]
    fig = overview({"a": results, "b": results, "c": results}, n=4)
    assert len(fig.axes) == 4  # three panels and one empty slot
