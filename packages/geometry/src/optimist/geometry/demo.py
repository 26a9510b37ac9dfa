"""``optimist demo geometry``: margins, frequency margins, curvature and universal perturbations, robust vs standard.

Default budget (about 25 s of compute on 2 idle cores once the zoo pair is cached): 100 test images for the
margin distributions and the curvature, 40 images per DCT block with stride 4 (6 of the 21 blocks), a universal
perturbation fitted on 200 training images and measured on 1,000 held-out test images. Bigger settings through
``options.extra``: ``n_margin``, ``n_subspace``, ``stride`` (1 for the paper's 21 blocks), ``n_curvature``,
``n_universal``, ``n_heldout``, ``universal_threat``, ``models`` (zoo names; e.g. add
``fashion-mnist/small-cnn/l2-1.5``, which trains on first use).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from optimist.core import zoo
from optimist.core.attacks import Threat
from optimist.core.data import load_dataset, subset
from optimist.core.demo import DemoOptions
from optimist.core.report import Section
from optimist.geometry.curvature import input_hessian_eigenvalue, local_linearity_gap
from optimist.geometry.figures import plot_curvature, plot_frequency_margins, plot_margin_histograms, plot_universal
from optimist.geometry.margins import margin_distribution
from optimist.geometry.subspace_margins import subspace_margins
from optimist.geometry.universal import fooling_rate, universal_perturbation

PAIR = {"standard": "fashion-mnist/small-cnn/standard", "robust (linf 0.1)": "fashion-mnist/small-cnn/linf-0.1"}

DEFAULTS = {"n_margin": 100, "n_subspace": 40, "block": 8, "stride": 4, "n_curvature": 100, "power_iters": 20,
            "gap_threat": "linf:0.1", "gap_steps": 10, "n_universal": 200, "n_heldout": 1000,
            "universal_threat": "linf:0.1", "universal_passes": 4, "universal_batch": 20, "num_candidates": 10,
            "universal_candidates": 5}
QUICK = {"n_margin": 16, "n_subspace": 8, "stride": 10, "n_curvature": 8, "power_iters": 5, "gap_steps": 3,
         "n_universal": 32, "n_heldout": 100, "universal_passes": 1}


def _label(name: str) -> str:
    tag = name.rsplit("/", 1)[-1]
    return "standard" if tag == "standard" else f"robust ({tag.replace('-', ' ')})"


def settings_for(options: DemoOptions) -> dict:
    """Defaults, shrunk in quick mode, then overridden by ``options.extra``."""
    s = dict(DEFAULTS)
    if options.quick:
        s.update(QUICK)
    s.update({k: v for k, v in options.extra.items() if k in DEFAULTS})
    return s


def _median(t: torch.Tensor) -> float:
    """The median as numpy and pandas compute it (mean of the middle pair), so every table agrees."""
    return float(np.median(t.double().cpu().numpy()))


def _random_rate(model, x, threat: str, seed: int) -> float:
    """Fooling rate of a random perturbation on the ball's boundary (a random corner of the L-inf cube, a random
    point of the L2 sphere): the baseline a universal perturbation must beat."""
    t = Threat.parse(threat)
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(x[:1].shape, generator=g).to(x)
    v = t.eps * (v.sign() if t.norm == "linf" else v / v.norm())
    return fooling_rate(model, x, v)


def demo(section: Section, options: DemoOptions) -> None:
    """Margins, frequency margins, curvature and universal perturbations for the zoo's standard/robust pair."""
    s = settings_for(options)
    torch.manual_seed(options.seed)
    progress = not options.quick
    names = list(options.extra.get("models", PAIR.values()))
    models = {_label(n): zoo.get(n, root=options.zoo_root, progress=progress).to(options.device).eval()
              for n in names}
    test = load_dataset("fashion-mnist", "test")
    train = load_dataset("fashion-mnist", "train")
    dev = options.device
    x_m = subset(test, s["n_margin"], options.seed)
    x, y = x_m.images.to(dev), x_m.targets.to(dev)
    x_sub = x[: s["n_subspace"]]
    x_curv, y_curv = subset(test, s["n_curvature"], options.seed).images.to(dev), None
    fit = subset(train, s["n_universal"], options.seed).images.to(dev)
    heldout = subset(test, s["n_heldout"], options.seed + 1).images.to(dev)

    timings, margins, freq, curv, gaps, uaps = {}, {}, {}, {}, {}, {}
    for label, model in models.items():
        t0 = time.perf_counter()
        margins[label] = margin_distribution(model, x, ("l2", "linf"), num_candidates=s["num_candidates"],
                                             progress=progress)
        t1 = time.perf_counter()
        freq[label] = subspace_margins(model, x_sub, block=s["block"], stride=s["stride"],
                                       num_candidates=s["num_candidates"], progress=progress)
        t2 = time.perf_counter()
        curv[label] = input_hessian_eigenvalue(model, x_curv, y_curv, iters=s["power_iters"]).eigenvalue
        gaps[label] = local_linearity_gap(model, x_curv, None, s["gap_threat"], steps=s["gap_steps"])
        t3 = time.perf_counter()
        uaps[label] = universal_perturbation(model, fit, s["universal_threat"], max_passes=s["universal_passes"],
                                             batch_size=s["universal_batch"],
                                             num_candidates=s["universal_candidates"], seed=options.seed,
                                             progress=progress)
        t4 = time.perf_counter()
        timings[label] = {"margins": t1 - t0, "frequency": t2 - t1, "curvature": t3 - t2, "universal": t4 - t3}

    rows = {}
    for label, model in models.items():
        with torch.no_grad():
            acc = float((model(x).argmax(1) == y).float().mean())
        l2, li = margins[label]["l2"].summary(), margins[label]["linf"].summary()
        fmed = freq[label].median()
        rows[label] = {
            "clean acc": acc,
            "median L2 margin": l2["median"], "rho L2": l2["rho"],
            "median Linf margin": li["median"], "rho Linf": li["rho"],
            "median L2 margin, lowest DCT block": fmed[0], "median L2 margin, highest DCT block": fmed[-1],
            "median lambda_max (loss Hessian)": _median(curv[label]),
            f"median linearity gap ({s['gap_threat']})": _median(gaps[label]),
            f"universal fooling rate ({s['universal_threat']}, held-out)":
                fooling_rate(model, heldout, uaps[label].perturbation),
            f"random-noise fooling rate ({s['universal_threat']})":
                _random_rate(model, heldout, s["universal_threat"], options.seed),
        }
    table = pd.DataFrame(rows).T
    table.index.name = "model"

    section.add_text(
        "The geometry of decision boundaries (Ortiz-Jimenez, Modas, Moosavi-Dezfooli and Frossard, 'Optimism in "
        "the Face of Adversity', 2021), measured on the zoo's standard and adversarially trained (PGD-AT, L-inf "
        "0.1) small CNNs on Fashion-MNIST. Margins are the norms of DeepFool's minimal perturbations (overshoot "
        "0.02, no clipping to the image box, so they measure the function itself); rho is the mean margin "
        "relative to the image's own norm, as in DeepFool."
    )
    section.add_table(table, "Geometry at a glance",
                      f"{s['n_margin']} test images for margins, {s['n_curvature']} for curvature; frequency "
                      f"margins on {s['n_subspace']} images; universal perturbation fitted on {s['n_universal']} "
                      f"training images, fooling rate on {s['n_heldout']} held-out test images.")
    section.add_figure(plot_margin_histograms(margins), "margin-histograms",
                       "DeepFool margins relative to the image norm (rho). Dashed: medians.")
    stats = pd.DataFrame([{"model": label, "norm": norm, **res.summary()} for label, per_norm in margins.items()
                          for norm, res in per_norm.items()]).set_index(["model", "norm"])
    section.add_table(stats, "Margin distribution",
                      "DeepFool margins (overshoot included) on the same test images: quartiles, mean, rho = mean "
                      "margin / ||x|| in the same norm, and the fraction of images where DeepFool crossed the "
                      "boundary within 50 iterations.")
    freq_table = pd.concat({label: r.table()[["start", "median", "q25", "q75", "found"]]
                            for label, r in freq.items()}, axis=1)
    section.add_figure(plot_frequency_margins(freq), "frequency-margins",
                       f"Median L2 margin of perturbations restricted to {s['block']}x{s['block']} blocks of the "
                       f"2-D DCT along the diagonal (stride {s['stride']}), 'Hold me tight!' (Ortiz-Jimenez et al. "
                       "2020). Low frequencies on the left.")
    section.add_table(freq_table, "Margins along DCT blocks",
                      "Per block: start frequency, median and quartiles of the subspace margin, fraction of images "
                      "where DeepFool found the boundary inside the subspace (inf margin otherwise).")
    section.add_figure(plot_curvature(curv), "curvature",
                       f"Dominant eigenvalue of the input Hessian of the cross-entropy (power iteration, "
                       f"{s['power_iters']} Hessian-vector products at most), per test image.")
    section.add_figure(plot_universal(uaps, models, heldout, list(test.info.class_names)), "universal",
                       "One perturbation per model for the whole dataset (left, fitted by accumulated DeepFool "
                       "steps projected on the ball), added to held-out images: prediction before -> after, red "
                       "when fooled.")
    ratio = table["median L2 margin"].iloc[-1] / table["median L2 margin"].iloc[0] if len(table) > 1 else 1.0
    section.add_text(
        f"Median L2 margin, last model / first: {ratio:.2f}x. Universal perturbation passes: "
        + ", ".join(f"{k}: {u.passes} (fit fooling rate {u.fit_fooling_rate:.2f})" for k, u in uaps.items())
        + "."
    )
    section.add_settings({"models": names, **s, "seed": options.seed, "device": options.device,
                          "seconds": {k: {i: round(t, 2) for i, t in v.items()} for k, v in timings.items()}})
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        print(table.T.to_string())
