"""The transfer ladder: do robust sources transfer better with few labels, once source training seeds count?

Salman et al. (2020) and Utrera et al. (2021) compare sources trained at several L2 budgets and find robust
features transfer better, most clearly with few target labels. :func:`transfer_ladder` does this at Fashion-MNIST
scale with the zoo's transfer ladder: one architecture (small or wide CNN), standard and L2 PGD-AT sources at one
budget, each trained with several seeds; linear probes on a few-shot target (the same images for every source).
Every interval is over source training seeds (each seed's accuracy averaged over the few-shot draws), so it
includes what retraining the source moves, not only which images were drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimist.core import zoo
from optimist.core.application import Result, claim, run_settings
from optimist.core.errors import SettingsError
from optimist.core.runtime import resolve_device, seeded
from optimist.core.settings import Settings, setting
from optimist.core.stats import t_interval, welch_interval
from optimist.transfer.figures import interval_bars
from optimist.transfer.protocols import ALL, parse_shots, run_transfer, shots_order
from optimist.transfer.results import gain_verdict
from optimist.transfer.sources import source_from_model
from optimist.transfer.splits import FASHION_SPLIT, load_target

ARCHS = ("wide-cnn", "small-cnn")
SOURCE_CLASSES = {"all": "transfer-fashion-mnist", "0to4": "transfer-fashion-mnist-0to4"}
LADDER_TARGETS = ("digits", FASHION_SPLIT)


@dataclass(frozen=True)
class LadderSettings(Settings):
    """Sources, target and few-shot protocol of :func:`transfer_ladder`."""

    arch: str = setting("wide-cnn", "source architecture: wide-cnn (2x the small CNN's width) or small-cnn",
                        choices=ARCHS)
    source_classes: str = setting("all", "classes the sources train on: all (ten) or 0to4 (for the held-out "
                                  "target fashion-mnist-5to9)", choices=tuple(SOURCE_CLASSES))
    target: str = setting("digits", "target task: digits (scikit-learn's, 28x28) or fashion-mnist-5to9",
                          choices=LADDER_TARGETS)
    epsilons: tuple[float, ...] = setting((0.25, 0.5, 1.0, 2.0), "L2 budgets of the robust sources (the zoo's "
                                          "transfer ladder)", minimum=0)
    source_seeds: int = setting(3, "training seeds per source budget", minimum=1)
    shots: tuple[int | str, ...] = setting((1, 2, 5, 10, 25, 100, "all"),
                                           "labelled target images per class (integers or all)")
    draws: int = setting(3, "few-shot draws per shots value (the same images for every source)", minimum=1)
    test_per_class: int = setting(0, "cap on target test images per class (0: the whole test split)", minimum=0)
    source_train_size: int = setting(0, "train the sources on this many images and evaluate them on at most 200 "
                                     "(0: the recipe's; only with a separate zoo_root, for smoke runs)", minimum=0)

    def validate(self) -> None:
        try:
            parse_shots(self.shots)
        except ValueError as e:
            raise SettingsError(f"setting 'shots': {e}") from e
        if not self.epsilons:
            raise SettingsError("setting 'epsilons': give at least one L2 budget")
        bad = [e for e in self.epsilons if e not in zoo.TRANSFER_LADDER]
        if bad:
            raise SettingsError(f"setting 'epsilons': {bad} not in the zoo's transfer ladder; choose from "
                                f"{list(zoo.TRANSFER_LADDER)}")
        if self.target == FASHION_SPLIT and self.source_classes != "0to4":
            raise SettingsError("target fashion-mnist-5to9 needs source_classes=0to4 (sources trained on all ten "
                                "classes have seen the target's classes)")


def source_names(s: LadderSettings) -> dict[float, list[str]]:
    """Zoo names of the sources: {epsilon (0 = standard): [one name per training seed]}."""
    base = f"{SOURCE_CLASSES[s.source_classes]}/{s.arch}"
    tags = {0.0: "standard", **{float(e): f"l2-{e:g}" for e in sorted(set(s.epsilons))}}
    return {e: [zoo.with_seed(f"{base}/{tag}", k) for k in range(s.source_seeds)] for e, tag in tags.items()}


def _label(eps: float) -> str:
    return "standard" if eps == 0 else f"L2 {eps:g}"


def _load_sources(names: dict[float, list[str]], s: LadderSettings, zoo_root, device, progress: bool):
    if s.source_train_size and zoo_root is None:
        raise SettingsError("setting 'source_train_size' needs a separate zoo_root (it would cache smaller models "
                            "under the zoo's own names)")
    sources, meta = [], {}
    for eps, group in names.items():
        for k, name in enumerate(group):
            override = (zoo.recipe(name).scaled(train_size=s.source_train_size, eval_n=min(s.source_train_size, 200))
                        if s.source_train_size else None)
            model = zoo.get(name, root=zoo_root, progress=progress, device=device, recipe_override=override)
            sources.append(source_from_model(model, name))
            meta[name] = (eps, k)
    return sources, meta


def _target(s: LadderSettings, seed: int):
    per_class = s.test_per_class or None
    if s.target == "digits":
        return load_target("digits", image_size=28, test_per_class=per_class, seed=seed)
    return load_target(FASHION_SPLIT, test_per_class=per_class, seed=seed)


def _per_seed(df: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per (epsilon, shots, source seed), averaged over the few-shot draws."""
    return df.groupby(["epsilon", "shots", "source_seed"], sort=False)["accuracy"].mean().reset_index()


def _table(per_seed: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (eps, shots), g in per_seed.groupby(["epsilon", "shots"], sort=False):
        v, lo, hi = t_interval(g["accuracy"].to_numpy())
        rows.append({"model": _label(eps), "measurement": f"target accuracy (linear, {shots}-shot)", "value": v,
                     "low": lo, "high": hi, "n": len(g), "epsilon": eps, "shots": str(shots),
                     "interval over": "source seeds (each averaged over draws)"})
    return pd.DataFrame(rows)


def _gains(per_seed: pd.DataFrame) -> pd.DataFrame:
    rows = []
    std = per_seed[per_seed["epsilon"] == 0]
    for (eps, shots), g in per_seed[per_seed["epsilon"] > 0].groupby(["epsilon", "shots"], sort=False):
        ref = std[std["shots"] == shots]["accuracy"].to_numpy()
        d, lo, hi = welch_interval(g["accuracy"].to_numpy(), ref)
        rows.append({"model": _label(eps), "epsilon": eps, "shots": str(shots), "gain": d, "ci_low": lo,
                     "ci_high": hi, "source seeds": f"{len(g)} vs {len(ref)}",
                     "verdict": gain_verdict(lo, hi, missing="no interval")})
    return pd.DataFrame(rows)


def _claims(per_seed: pd.DataFrame, gains: pd.DataFrame, shots: list, target: str) -> pd.DataFrame:
    drawn = [str(k) for k in shots if k != ALL] or [str(k) for k in shots]
    picks = list(dict.fromkeys([drawn[0], drawn[-1]]))
    text = {drawn[0]: f"L2-robust sources transfer better to {target} with few labels ({drawn[0]} per class)",
            drawn[-1]: f"... and with many ({drawn[-1]} per class; Utrera et al. find the gain vanishes)"}
    std = per_seed[per_seed["epsilon"] == 0]
    rows = []
    for k in picks:
        base = float(std[std["shots"] == k]["accuracy"].mean())
        for _, g in gains[gains["shots"] == k].iterrows():
            rob = base + float(g["gain"])
            rows.append(claim(text[k], f"target accuracy (linear, {k}-shot; source-seed interval)", base, rob,
                              float(g["ci_low"]), float(g["ci_high"]), robust_label=g["model"],
                              standard_label="standard"))
    return pd.DataFrame(rows)


def _sources_table(sources, meta) -> pd.DataFrame:
    rows = []
    for eps in dict.fromkeys(meta[src.name][0] for src in sources):
        group = [src for src in sources if meta[src.name][0] == eps]
        clean = t_interval([src.clean_accuracy for src in group])
        threat, _ = group[0].robust_at()
        robust = t_interval([src.robust_at(threat)[1] for src in group])
        rows.append({"source": _label(eps), "seeds": len(group), "clean accuracy": clean[0],
                     "clean low": clean[1], "clean high": clean[2], f"robust accuracy ({threat})": robust[0],
                     "robust low": robust[1], "robust high": robust[2]})
    return pd.DataFrame(rows)


def transfer_ladder(*, device=None, progress: bool = True, seed: int = 0, zoo_root=None, **settings) -> Result:
    """Standard and L2-robust zoo sources (trained on first use, several seeds each) probed on a few-shot target.

    Returns one :class:`~optimist.core.application.Result`: target accuracy per budget and shots with its interval
    over source seeds, the gain of each budget over the standard sources (Welch interval over seeds), the sources'
    own clean and robust accuracy, and the claims at the fewest and the most labels drawn.

    Examples
    --------
    >>> # skipped when run as a doctest: it fetches (or trains) zoo models (minutes)
    >>> result = transfer_ladder()  # doctest: +SKIP
    """
    s = LadderSettings.from_mapping(settings)
    device = resolve_device(device)
    names = source_names(s)
    shots = parse_shots(s.shots)
    with seeded(seed, [device]):  # zoo training seeds the global RNG: fork it so the caller's is left as it was
        sources, meta = _load_sources(names, s, zoo_root, device, progress)
        target = _target(s, seed)
        df = run_transfer(sources, [target], protocols=["linear"], shots=shots,
                          seeds=[seed + i for i in range(s.draws)], cache=False,
                          device=str(device), progress=progress)
    df["source_seed"] = [meta[n][1] for n in df["source"]]
    df["epsilon"] = [meta[n][0] for n in df["source"]]
    df["model"] = df["epsilon"].map(_label)
    per_seed = _per_seed(df)
    table, gains = _table(per_seed), _gains(per_seed)
    claims = _claims(per_seed, gains, shots, target.name)
    src_table = _sources_table(sources, meta)
    figures, captions = _figures(table, gains, src_table)
    classes = "all ten classes" if s.source_classes == "all" else "classes 0-4"
    text = (f"Transfer ladder: {s.arch} sources trained on Fashion-MNIST ({classes}), "
            f"standard and L2 PGD-AT at {', '.join(f'{e:g}' for e in sorted(set(s.epsilons)))}, {s.source_seeds} "
            f"training seed(s) each; target {target.describe()}. Linear probes (standardised penultimate features, "
            f"logistic regression with C by cross-validation) on {', '.join(map(str, shots))} labelled images per "
            f"class, {s.draws} draw(s) each, the same images for every source. Intervals are over source training "
            "seeds (each seed averaged over the draws); gains use Welch's interval between the seed groups.")
    per_example = df.drop(columns=["source_threat"])
    record = run_settings("transfer-ladder", s, {n: f"zoo:{n}" for n in meta}, s.target, seed=seed, device=device)
    return Result("transfer-ladder", table, per_example, figures, captions, record, text,
                  {"Gain over the standard sources": gains, "Sources": src_table}, claims=claims)


def _figures(table: pd.DataFrame, gains: pd.DataFrame, src_table: pd.DataFrame):
    import matplotlib.pyplot as plt

    figs, caps = {}, {}
    order = shots_order(table["shots"])
    xs = {k: i for i, k in enumerate(order)}
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    cmap = plt.get_cmap("viridis")
    epss = sorted(table["epsilon"].unique())
    for i, eps in enumerate(epss):
        g = table[table["epsilon"] == eps].set_index("shots").loc[order]
        colour = "black" if eps == 0 else cmap(i / max(1, len(epss) - 1))
        x = np.array([xs[k] for k in g.index]) + 0.06 * (i - len(epss) / 2)
        interval_bars(axes[0], x, g["value"], g["low"], g["high"], scale=100, color=colour, label=_label(eps))
        if eps > 0 and len(gains):
            h = gains[gains["epsilon"] == eps].set_index("shots").loc[order]  # every budget has every shots value
            x = np.array([xs[k] for k in h.index]) + 0.06 * (i - len(epss) / 2)
            interval_bars(axes[1], x, h["gain"], h["ci_low"], h["ci_high"], scale=100, color=colour,
                          label=_label(eps))
    for ax in axes:
        ax.set_xticks(range(len(order)), order)
        ax.set_xlabel("labelled target images per class")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("target test accuracy (%)")
    axes[1].axhline(0, color="grey", lw=0.8)
    axes[1].set_ylabel("robust − standard (points)")
    fig.tight_layout()
    figs["ladder-accuracy"] = fig
    caps["ladder-accuracy"] = ("Left: target accuracy against labelled images per class, mean over source training "
                               "seeds with its 95% interval. Right: each L2 budget minus the standard sources, with "
                               "Welch's 95% interval over seeds; above zero is a gain that survives retraining.")
    fig, ax = plt.subplots(figsize=(5, 3.4))
    robust_col = next(c for c in src_table.columns if c.startswith("robust accuracy"))
    x = np.arange(len(src_table))
    for col, lo, hi, name in (("clean accuracy", "clean low", "clean high", "clean"),
                              (robust_col, "robust low", "robust high", robust_col)):
        interval_bars(ax, x, src_table[col], src_table[lo], src_table[hi], scale=100, label=name)
    ax.set_xticks(x, src_table["source"])
    ax.set_ylabel("source test accuracy (%)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    figs["ladder-sources"] = fig
    caps["ladder-sources"] = ("The sources on their own task (Fashion-MNIST test images): clean accuracy falls and "
                              "robust accuracy rises with the training budget; 95% intervals over seeds.")
    return figs, caps


# A smoke run (--quick): two seeds of one budget trained on 1,000 images, a few test images per class.
QUICK = {"epsilons": [0.5], "source_seeds": 2, "shots": [1, 5], "draws": 2, "source_train_size": 1000,
         "test_per_class": 20}


def demo(section, options) -> Result:
    """``optimist demo transfer-ladder``: :func:`transfer_ladder` with ``--set`` overrides, into the report."""
    settings = {**(QUICK if options.quick else {}), **options.extra}
    LadderSettings.from_mapping(settings)  # fail before training anything
    root = options.zoo_root
    if options.quick and root is None:
        root = options.out_dir / "zoo"
    result = transfer_ladder(device=options.device, progress=not options.quick, seed=options.seed, zoo_root=root,
                             **settings)
    result.to_section(section)
    return result


demo.opt_in = True
