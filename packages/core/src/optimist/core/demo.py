"""The showcase: every installed application registers a demo; ``optimist demo`` runs them into one report.

An application adds its demo through the ``optimist.demos`` entry-point group, pointing at a function
``demo(section: Section, options: DemoOptions) -> None``. Core never imports an application. A demo function
with the attribute ``opt_in = True`` (one that must train for long) runs only when named.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from optimist.core import zoo
from optimist.core.data import load_dataset
from optimist.core.errors import InputError
from optimist.core.models import MODELS, build_model
from optimist.core.report import Report, Section, provenance

GROUP = "optimist.demos"
ORDER = ("core", "interpretability", "generation", "diffusion", "transfer", "transfer-ladder", "shifts", "geometry")


@dataclass
class DemoOptions:
    """Settings shared by all demos. ``quick`` shrinks every demo to a smoke run (tests)."""

    out_dir: Path
    seed: int = 0
    device: str = "cpu"
    quick: bool = False
    zoo_root: Path | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()}


DemoFn = Callable[[Section, DemoOptions], None]


def available_demos() -> dict[str, object]:
    """Installed demos by name (entry points, not yet imported), in showcase order."""
    eps = {ep.name: ep for ep in entry_points(group=GROUP)}
    ordered = [n for n in ORDER if n in eps] + sorted(n for n in eps if n not in ORDER)
    return {n: eps[n] for n in ordered}


def run_demos(names: list[str] | None, options: DemoOptions, title: str = "Optimist showcase") -> Path:
    """Run the named demos (all installed ones by default) and write the report; returns its path."""
    demos = available_demos()
    if not names:
        names = []
        for n, ep in demos.items():
            if getattr(ep.load(), "opt_in", False):
                print(f"[optimist demo] skipping {n}: it is opt-in (long); run `optimist demo {n}`", flush=True)
            else:
                names.append(n)
    unknown = [n for n in names if n not in demos]
    if unknown:
        raise InputError(f"unknown demo(s) {unknown}; installed demos: {', '.join(demos)}. "
                         "Install an application package (pip install -e packages/NAME) to add its demo.")
    banner = ("Smoke run (--quick): tiny settings and stand-in models - these numbers are not results."
              if options.quick else None)
    report = Report(options.out_dir, title, banner=banner, provenance=provenance())
    timings = {}
    for name in names:
        fn: DemoFn = demos[name].load()
        section = report.section(name.capitalize() if name != "core" else "Core: data, models and the zoo pair")
        print(f"[optimist demo] {name} ...", flush=True)
        t0 = time.perf_counter()
        fn(section, options)
        timings[name] = round(time.perf_counter() - t0, 1)
        print(f"[optimist demo] {name} done in {timings[name]:.0f} s", flush=True)
        report.write()  # a partial report survives a later failure
    lead = showcase_figure(Path(options.out_dir) / "figures")
    if lead is not None:
        report.lead(lead, SHOWCASE_CAPTION)
    settings = {"demos": names, "options": options.to_dict(), "seconds": timings, "argv": sys.argv,
                "python": platform.python_version(), "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                "provenance": report.provenance, "quick": options.quick}
    (Path(options.out_dir) / "settings.json").write_text(json.dumps(settings, indent=2))
    return report.write()


#: the report figures that the opening picture puts together: (file, title)
SHOWCASE_PARTS = (("interpretability-gradients.png", "What the gradient sees: input gradients of a standard and of "
                                                     "L-inf-trained small CNNs (red raises the class score)"),
                  ("generation-class-generation.png", "What the classifier draws: class generation from the same "
                                                      "blurred seeds, standard and L2-trained small CNNs"))
SHOWCASE_CAPTION = ("Robust versus standard, same data, same architecture: the robust models' gradients outline "
                    "the garment and their class generation draws garments, the standard model's give noise.")


def showcase_figure(figures: Path):
    """The report's opening picture: saliency and class generation stacked (None when a demo did not draw them)."""
    import matplotlib.pyplot as plt

    paths = [figures / name for name, _ in SHOWCASE_PARTS]
    if not all(p.is_file() for p in paths):
        return None
    images = [plt.imread(p) for p in paths]
    heights = [im.shape[0] / im.shape[1] for im in images]
    fig, axes = plt.subplots(len(images), 1, figsize=(9, 9 * sum(heights) + 0.6),
                             gridspec_kw={"height_ratios": heights})
    for ax, im, (_, title) in zip(axes, images, SHOWCASE_PARTS):
        ax.imshow(im)
        ax.set_title(title, fontsize=9, loc="left")
        ax.axis("off")
    fig.tight_layout()
    return fig


# --- core's own demo ------------------------------------------------------------------------------


def _sample_grid(ds, per_class: int = 8):
    import matplotlib.pyplot as plt

    info = ds.info
    fig, axes = plt.subplots(info.num_classes, per_class, figsize=(per_class * 0.9, info.num_classes * 0.95))
    for c in range(info.num_classes):
        idx = (ds.targets == c).nonzero().flatten()[:per_class]
        for j, ax in enumerate(axes[c]):
            ax.axis("off")
            if j < len(idx):
                img = ds.images[idx[j]].permute(1, 2, 0).squeeze(-1).numpy()
                ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        axes[c][0].set_title(info.class_names[c], fontsize=7, loc="left")
    fig.tight_layout()
    return fig


def core_demo(section: Section, options: DemoOptions) -> None:
    """Dataset, sample images, the model registry, and the zoo's standard/robust pair with accuracies."""
    import torch

    ds = load_dataset("fashion-mnist", "train")
    test = load_dataset("fashion-mnist", "test")
    info = ds.info
    section.add_text(
        f"Dataset: Fashion-MNIST, {len(ds)} training and {len(test)} test images of {info.channels}x"
        f"{info.image_size}x{info.image_size}, {info.num_classes} classes, pixel values in [0, 1]. "
        "Models normalise internally, so every attack and saliency method works in pixel space."
    )
    counts = np.bincount(ds.targets.numpy(), minlength=info.num_classes)
    section.add_table(pd.DataFrame({"class": info.class_names, "train images": counts}).set_index("class"),
                      "Classes")
    section.add_figure(_sample_grid(ds), "samples", "Eight training images per class.")

    rows = []
    for name, cls in MODELS.items():
        size = 224 if name.startswith("tv-") else 28
        with torch.device("meta"), torch.no_grad():  # shapes and counts only: no memory, no arithmetic
            m = build_model(name, 10, 1, size)
            feats = m.features(torch.empty(1, 1, size, size)).shape[1]
        rows.append({"model": name, "input": f"1x{size}x{size}", "parameters": sum(p.numel() for p in m.parameters()),
                     "feature dim": feats, "about": (cls.__doc__ or "").strip().split("\n")[0]})
    section.add_table(pd.DataFrame(rows).set_index("model"), "Model registry",
                      "Every model takes [0, 1] images; normalisation is a module inside it.")

    pair = [n for n, r in zoo.recipes().items() if "default" in r.tags]
    for name in pair:
        zoo.get(name, root=options.zoo_root, progress=not options.quick)
    table = pd.DataFrame([r for r in zoo.cached(options.zoo_root) if r["name"] in pair]).set_index("name")
    n = {zoo.recipe(name).eval_n for name in pair}
    images = "the whole test set" if n == {len(test)} else f"the first {', '.join(map(str, sorted(n)))} test images"
    section.add_table(table, "The zoo's default pair",
                      f"Clean and robust accuracy on {images} (the default evaluation cascade, 20 steps per gradient "
                      "stage), from each model's card; 'where' says whether it comes with optimist-zoo or from the "
                      "cache.")
    section.add_settings({"dataset": "fashion-mnist", "zoo_models": pair,
                          "recipes": {n: zoo.recipe(n).config.to_dict() for n in pair}})
