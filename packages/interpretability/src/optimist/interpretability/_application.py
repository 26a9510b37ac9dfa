"""``compare``: saliency of several models on the same images, in the application contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pandas as pd
from torch import nn

from optimist.core.application import (
    Result,
    Run,
    claim,
    claim_pair,
    prepare,
)
from optimist.core.attacks import training_threat
from optimist.core.errors import SettingsError
from optimist.core.settings import Settings, setting
from optimist.interpretability.attributions import METHODS
from optimist.interpretability.compare import Comparison, score_maps
from optimist.interpretability.metrics import DIRECTION, METRICS

_FIVE = ("gradient", "input-x-gradient", "integrated-gradients", "smoothgrad", "guided-backprop")


@dataclass(frozen=True)
class InterpretabilitySettings(Settings):
    """What ``optimist.interpretability.compare`` scores, and how."""

    n: int = setting(96, "test images scored (the first n)", minimum=1)
    methods: tuple[str, ...] = setting(_FIVE, "captum attribution methods", choices=tuple(METHODS))
    metrics: tuple[str, ...] = setting(tuple(METRICS), "saliency metrics", choices=tuple(METRICS))
    target: str = setting("predicted", "class each map explains", choices=("predicted", "label"))
    random_baseline: bool = setting(True, "add Gaussian-noise maps: what a map without signal scores")
    steps: int = setting(20, "deletion/insertion steps", minimum=2)
    infidelity_samples: int = setting(8, "Gaussian perturbations per image for infidelity", minimum=1)
    infidelity_sigma: float = setting(0.1, "std of the infidelity perturbations", minimum=0.0)
    sensitivity_n: int = setting(12, "images for max-sensitivity (the slowest metric)", minimum=0)
    sensitivity_samples: int = setting(3, "perturbations per image for max-sensitivity", minimum=1)
    sensitivity_radius: float = setting(0.02, "L-inf radius of the max-sensitivity ball", minimum=0.0)
    ig_steps: int = setting(16, "integrated-gradients steps", minimum=2)
    smoothgrad_samples: int = setting(8, "SmoothGrad noise samples", minimum=1)
    n_figure: int = setting(6, "images shown in the saliency grids", minimum=1)
    batch_size: int | None = setting(None, "images per batch (default: chosen from the models and the image size "
                                     "to bound memory)", minimum=1)

    def validate(self) -> None:
        if not self.methods:
            raise SettingsError("setting 'methods' needs at least one method")
        if not self.metrics:
            raise SettingsError("setting 'metrics' needs at least one metric")


def _table(cmp: Comparison, models: list[str], reference: str) -> pd.DataFrame:
    t = cmp.table
    rows = pd.DataFrame({"model": t["model"], "measurement": t["metric"] + " (" + t["method"] + ")",
                         "value": t["mean"], "low": t["ci_low"], "high": t["ci_high"], "n": t["n"],
                         "method": t["method"], "metric": t["metric"]})
    acc = pd.DataFrame([{"model": m, "measurement": "accuracy on the scored images", "value": cmp.accuracy[m],
                         "low": lo, "high": hi, "n": n, "method": "", "metric": "accuracy"}
                        for m, (lo, hi, n) in ((m, cmp.accuracy_interval[m]) for m in models)])
    return pd.concat([acc, rows], ignore_index=True)


def _differences(cmp: Comparison, reference: str) -> pd.DataFrame:
    d = cmp.differences(reference)
    d["better"] = [("better" if DIRECTION[m] * lo > 0 and DIRECTION[m] * hi > 0 else
                    "worse" if DIRECTION[m] * lo < 0 and DIRECTION[m] * hi < 0 else "no clear difference")
                   if DIRECTION[m] else "-" for m, lo, hi in zip(d["metric"], d["ci_low"], d["ci_high"])]
    return d


_CLAIMS = {  # metric -> the claim, for gradient maps (the papers' claims are about the plain gradient)
    "alignment": "Robust models' gradients align with the image (perceptually aligned saliency)",
    "deletion": "Deleting a robust model's top-ranked pixels destroys its prediction faster",
    "infidelity": "A robust model's map predicts its output changes better (lower infidelity)",
}


def _claims(cmp: Comparison, pair, method: str) -> pd.DataFrame:
    if pair is None:
        return pd.DataFrame()
    std, rob = pair
    d = cmp.differences(std)
    means = cmp.table.set_index(["model", "method", "metric"])["mean"]
    rows = []
    for metric, text in _CLAIMS.items():
        r = d[(d["model"] == rob) & (d["method"] == method) & (d["metric"] == metric)]
        if r.empty:
            continue
        r = r.iloc[0]
        rows.append(claim(text, f"{metric} ({method} maps)", float(means[(std, method, metric)]),
                          float(means[(rob, method, metric)]), float(r["ci_low"]), float(r["ci_high"]),
                          higher_is_better=DIRECTION[metric] > 0, robust_label=rob, standard_label=std))
    return pd.DataFrame(rows)


def compare(models: Mapping[str, nn.Module | str], data="fashion-mnist", *, device=None, progress: bool = True,
            seed: int = 0, **settings) -> Result:
    """Explain each model's prediction on the same images with captum methods and score every map.

    The first model is the reference of the paired differences (per-image, model minus reference, 95% interval).

    Examples
    --------
    >>> # skipped when run as a doctest: it fetches (or trains) two zoo models and scores 200 images (minutes)
    >>> result = compare({"standard": "zoo:fashion-mnist/small-cnn/standard",
    ...                   "robust": "zoo:fashion-mnist/small-cnn/linf-0.1"}, "fashion-mnist?n=200")  # doctest: +SKIP
    """
    s = InterpretabilitySettings.from_mapping(settings)
    with prepare("interpretability", models, data, settings=s, device=device, seed=seed, progress=progress) as run:
        return _explain(run)


def _explain(run: Run) -> Result:
    """Every image's maps and scores in ``run.map``'s chunks of ``run.batch_size`` images (each chunk's randomness
    its own, so any number of processes gives the same rows), then the table, figures and claims from them."""
    s, named, ds, seed, device, progress = run.settings, run.models, run.data, run.seed, run.device, run.progress
    labels = run.labels
    reference = labels[0]
    x, y = ds.images[: s.n], ds.targets[: s.n]
    options = {"integrated-gradients": {"n_steps": s.ig_steps}, "smoothgrad": {"nt_samples": s.smoothgrad_samples}}
    cmp = score_maps(named, (x, y), methods=list(s.methods), metrics=list(s.metrics), n=s.n, target=s.target,
                     random_baseline=s.random_baseline, steps=s.steps, infidelity_sigma=s.infidelity_sigma,
                     infidelity_samples=s.infidelity_samples, sensitivity_n=s.sensitivity_n,
                     sensitivity_samples=s.sensitivity_samples, sensitivity_radius=s.sensitivity_radius,
                     method_options=options, n_figure=s.n_figure, batch_size=run.batch_size, seed=seed,
                     device=device, progress=progress, mapper=run.map)
    cmp.class_names = ds.info.class_names
    if "guided_backprop" in cmp.settings:  # per model: on the model itself, or on a copy with new ReLUs
        run.record["guided_backprop"] = cmp.settings["guided_backprop"]
    figures = {"gradients": cmp.grid_figure(methods=[s.methods[0]], images_as_columns=True),
               "all-methods": cmp.grid_figure(models=[reference, labels[-1]])}
    captions = {
        "gradients": f"{s.methods[0]} maps of each model's {s.target} class on the same images (red raises the "
                     "logit, blue lowers it): look for maps that outline the garment for the robust models and "
                     "speckle for the standard one.",
        "all-methods": f"Every method for {reference} and {labels[-1]}, with random maps for scale.",
    }
    epsilons = {m: training_threat(named[m]) for m in labels}
    if len(labels) > 1 and all(e is not None for e in epsilons.values()):
        figures["metric-vs-epsilon"] = cmp.epsilon_figure(epsilons)
        captions["metric-vs-epsilon"] = ("Each metric's mean and 95% interval against the models' training "
                                         "epsilon; dashed grey: random maps. Look for monotone trends.")
    diffs = _differences(cmp, reference) if len(labels) > 1 else pd.DataFrame()
    text = (f"Saliency of {len(labels)} model(s) on the same {len(x)} images of {ds.info.name}, each explaining "
            f"its {s.target} class with {len(s.methods)} captum method(s)"
            f"{' and random maps' if s.random_baseline else ''}. Claim (Tsipras et al. 2019; Etmann et al. "
            "2019): robust models' gradients are perceptually aligned with the image.")
    extra = {f"Paired differences from {reference}": diffs.set_index(["model", "method", "metric"])} \
        if len(diffs) else {}
    claims = _claims(cmp, claim_pair(named), "gradient" if "gradient" in s.methods else s.methods[0])
    return Result("interpretability", _table(cmp, labels, reference), cmp.per_example, figures, captions,
                  run.record, text, extra,
                  claims=claims)
