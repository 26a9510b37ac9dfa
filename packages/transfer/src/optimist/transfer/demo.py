"""``optimist demo transfer``: do robust features transfer better? Fixed-feature and few-shot, two targets.

Sources: the zoo's Fashion-MNIST classes-0-4 models (standard, PGD-AT L∞ 0.05 and 0.1; same architecture and
budget). Targets: Fashion-MNIST classes 5-9 (never seen by the sources) and scikit-learn's digits at 28x28.
The digits target uses the same 0-4 sources, so both targets are judged against one ladder of models and the
demo trains no extra model.

Options (``DemoOptions.extra``): ``shots`` (list, default 1, 5, 10, 25, 100, "all"), ``seeds`` (count,
default 3), ``train_per_class`` (Fashion-MNIST target training pool per class, default 1000; "all" = 6000),
``l2`` (True adds the L2 1.5 source, trained on first use), ``digits_sources`` ("0to4" or "full": the
ten-class zoo models standard/L∞ 0.05/L∞ 0.1), ``finetune`` (True adds full and last-block fine-tuning),
``finetune_steps`` (default 300), ``finetune_shots`` (default [10, "all"]).
"""

from __future__ import annotations

import math
import time

import pandas as pd

from optimist.transfer.features import default_cache
from optimist.transfer.finetune import FinetuneConfig
from optimist.transfer.protocols import DEFAULT_SHOTS, run_transfer
from optimist.transfer.results import accuracy_table, gains, save_results, source_table
from optimist.transfer.sources import DEFAULT_SOURCES, FASHION_0TO4, L2_SOURCES, PAIR_SOURCES, load_sources
from optimist.transfer.splits import digits_target, fashion_split

FULL_FMNIST_SOURCES = ("fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/linf-0.05",
                       "fashion-mnist/small-cnn/linf-0.1")
QUICK = dict(shots=(1, 5), seeds=2, train_per_class=60, test_per_class=60, digits_test_per_class=30,
             finetune_steps=5, finetune_shots=(5,))
DEFAULT = dict(shots=DEFAULT_SHOTS, seeds=3, train_per_class=1000, test_per_class=None, digits_test_per_class=None,
               finetune_steps=300, finetune_shots=(10, "all"))


def _settings(options) -> dict:
    extra = dict(options.extra or {})
    s = dict(QUICK if options.quick else DEFAULT)
    for key in ("shots", "seeds", "train_per_class", "finetune_steps", "finetune_shots"):
        if key in extra:
            s[key] = extra[key]
    if s["train_per_class"] == "all":
        s["train_per_class"] = None
    s["finetune"] = bool(extra.get("finetune", False)) or options.quick  # quick mode smoke-tests it too
    s["l2"] = bool(extra.get("l2", False))
    s["digits_sources"] = extra.get("digits_sources", "0to4")
    if s["digits_sources"] not in ("0to4", "full"):
        raise ValueError(f"digits_sources must be '0to4' or 'full', got {s['digits_sources']!r}")
    if int(s["seeds"]) < 1:
        raise ValueError(f"seeds must be >= 1, got {s['seeds']}")
    return s


def _cell(v: float) -> str:
    return "n/a" if math.isnan(v) else f"{100 * v:+.1f}"


def gains_text_table(g: pd.DataFrame) -> pd.DataFrame:
    """Gains in accuracy points with their paired 95% interval, one column per robust source."""
    g = g.assign(model=[f"{'L∞' if n == 'linf' else n.upper()} {e:g}" for n, e in zip(g["norm"], g["epsilon"])])
    g["cell"] = [f"{_cell(m)} [{_cell(lo)}, {_cell(hi)}]" if not math.isnan(lo) else _cell(m)
                 for m, lo, hi in zip(g["gain"], g["ci_low"], g["ci_high"])]
    rows = list(dict.fromkeys(zip(g["target"], g["protocol"], g["shots"])))
    wide = g.pivot(index=["target", "protocol", "shots"], columns="model", values="cell")
    wide = wide.reindex(pd.MultiIndex.from_tuples(rows, names=["target", "protocol", "shots"]))
    return wide[list(dict.fromkeys(g["model"]))]


def verdict_text(g: pd.DataFrame) -> str:
    """Plain sentences: per target and protocol, where robust sources beat, matched or trailed standard."""
    lines = []
    for (target, protocol), sub in g.groupby(["target", "protocol"], sort=False):
        parts = []
        for verdict in ("robust better", "standard better", "no clear difference", "single run"):
            h = sub[sub["verdict"] == verdict]
            if h.empty:
                continue
            items = ", ".join(f"{'L∞' if n == 'linf' else n.upper()} {e:g} at {k}-shot {100 * d:+.1f}"
                              if k != "all" else f"{'L∞' if n == 'linf' else n.upper()} {e:g} with all labels "
                              f"{100 * d:+.1f}"
                              for n, e, k, d in zip(h["norm"], h["epsilon"], h["shots"], h["gain"]))
            parts.append(f"{verdict}: {items}")
        best = sub.loc[sub["gain"].idxmax()]
        worst = sub.loc[sub["gain"].idxmin()]
        lines.append(f"{target}, {protocol} (robust minus standard, accuracy points; paired 95% interval over "
                     f"seeds decides): " + "; ".join(parts) + f". Largest gain {100 * best['gain']:+.1f} "
                     f"({best['source'].split('/')[-1]}, {best['shots']}-shot); smallest "
                     f"{100 * worst['gain']:+.1f} ({worst['source'].split('/')[-1]}, {worst['shots']}-shot).")
    return "\n\n".join(lines)


def demo(section, options) -> None:
    """Linear probe and few-shot probes (and optionally fine-tuning) for standard vs robust sources."""
    import torch

    from optimist.transfer.figures import plot_gains, plot_vs_epsilon, plot_vs_shots

    s = _settings(options)
    torch.manual_seed(options.seed)
    progress = not options.quick
    if options.quick:
        names, digit_names = PAIR_SOURCES, PAIR_SOURCES
    else:
        names = DEFAULT_SOURCES + (L2_SOURCES if s["l2"] else ())
        digit_names = names if s["digits_sources"] == "0to4" else FULL_FMNIST_SOURCES
    sources = load_sources(names, root=options.zoo_root, progress=progress)
    digit_sources = sources if digit_names == names else load_sources(digit_names, root=options.zoo_root,
                                                                       progress=progress)
    t0 = time.perf_counter()
    fmnist = fashion_split(train_per_class=s["train_per_class"], test_per_class=s["test_per_class"],
                           seed=options.seed)
    digits = digits_target(test_per_class=s["digits_test_per_class"], seed=options.seed)
    seeds = [options.seed + i for i in range(int(s["seeds"]))]
    cache = default_cache()
    frames = []
    for target, srcs in ((fmnist, sources), (digits, digit_sources)):
        frames.append(run_transfer(srcs, [target], ("linear",), s["shots"], seeds, cache=cache,
                                   device=options.device, progress=progress))
        if s["finetune"]:
            cfg = FinetuneConfig(steps=int(s["finetune_steps"]))
            frames.append(run_transfer(srcs, [target], ("finetune-full", "finetune-last"), s["finetune_shots"],
                                       seeds[:1] if options.quick else seeds, finetune_config=cfg,
                                       device=options.device, progress=progress))
    df = pd.concat(frames, ignore_index=True)
    seconds = time.perf_counter() - t0
    csv = save_results(df, options.out_dir / "tables" / "transfer-results.csv")

    src_tab = source_table(list({x.name: x for x in sources + digit_sources}.values()))
    acc = accuracy_table(df)
    g = gains(df)
    g_tab = gains_text_table(g)
    print("\n[transfer] target test accuracy (mean ± 95% CI half-width over seeds):")
    print(acc.to_string())
    print("\n[transfer] robust minus standard, accuracy points [paired 95% CI]:")
    print(g_tab.to_string())
    print(f"\n[transfer] {len(df)} runs in {seconds:.1f} s; tidy results in {csv}")

    section.add_text(
        "Do adversarially robust features transfer better (Salman et al. 2020; Utrera et al. 2021)? Source models "
        "are small CNNs trained on Fashion-MNIST classes 0-4 only, by standard training and by PGD adversarial "
        "training at increasing L∞ budgets (same architecture, data and epochs). Targets: the five Fashion-MNIST "
        "classes the sources never saw (5-9: sandal, shirt, sneaker, bag, ankle boot) and scikit-learn's 8x8 "
        "digits resized to 28x28. Fixed-feature transfer: penultimate features, standardised, multinomial "
        "logistic regression with C chosen by 3-fold cross-validation on the training labels only. Few-shot: the "
        "same probe on k labelled images per class, with the same k images for every source at a given seed."
        + (" QUICK MODE: smoke-test settings with the zoo's default pair, which was trained on all ten "
           "Fashion-MNIST classes; these numbers say nothing about transfer." if options.quick else ""))
    section.add_table(src_tab, "Source models on their own task",
                      "Clean and PGD-20 accuracy on the source's test set (classes 0-4), from each model card.")
    section.add_table(acc, "Target accuracy",
                      "Mean test accuracy over seeds ± half-width of the 95% t-interval; 'all' is the whole "
                      f"training pool (Fashion-MNIST: {s['train_per_class'] or 6000} per class; digits: all "
                      f"{len(digits.train)}), fitted once.")
    section.add_table(g_tab, "Robust minus standard",
                      "Paired difference in accuracy points with its 95% interval over seeds (same few-shot images).")
    section.add_text(verdict_text(g))
    section.add_figure(plot_vs_epsilon(df), "accuracy-vs-epsilon",
                       "Left: the sources' own clean and PGD accuracy fall with epsilon. Right: target accuracy "
                       "per source, one line per number of labelled images per class.")
    section.add_figure(plot_vs_shots(df), "accuracy-vs-shots",
                       "Linear-probe accuracy versus labelled target images per class, one line per source.")
    section.add_figure(plot_gains(df), "gain-vs-shots",
                       "Robust minus standard (accuracy points, paired 95% interval over seeds) versus shots.")
    section.add_text(f"Transfer compute (features, probes{', fine-tuning' if s['finetune'] else ''}): "
                     f"{seconds:.1f} s for {len(df)} runs; tidy results: {csv.name}.")
    section.add_settings({"sources": list(names), "digits_sources": list(digit_names), "targets":
                          [fmnist.describe(), digits.describe()], "seeds": seeds,
                          **{k: (list(v) if isinstance(v, tuple) else v) for k, v in s.items()},
                          "probe": "StandardScaler + LogisticRegressionCV(newton-cg, Cs=1e-3..10, 3-fold)",
                          "source_prefix": FASHION_0TO4, "seconds": round(seconds, 1)})
