"""``optimist demo interpretability``: saliency of standard and robust zoo models, pictured and measured.

Options (``DemoOptions.extra``): ``ladder`` ("default": standard, L∞ 0.05, L∞ 0.1; "linf", "l2" or
"all" for the zoo's full ladders, which trains missing models), ``n`` (images scored, default 96),
``steps`` (deletion/insertion steps, default 20), ``methods`` (list), ``target`` ("predicted" or "label").
"""

from __future__ import annotations

import time

import pandas as pd

from optimist.interpretability.compare import DIRECTION, METRICS, Comparison, compare
from optimist.interpretability.ladder import display_name, ladder_names, training_epsilon

QUICK = dict(n=12, steps=6, infidelity_samples=4, sensitivity_n=4, sensitivity_samples=2, n_figure=3,
             method_options={"integrated-gradients": {"n_steps": 4}, "smoothgrad": {"nt_samples": 2}})
DEFAULT = dict(n=96, steps=20, infidelity_samples=8, sensitivity_n=12, sensitivity_samples=3, n_figure=6,
               method_options={"integrated-gradients": {"n_steps": 16}, "smoothgrad": {"nt_samples": 8}})


def difference_table(cmp: Comparison, reference: str, digits: int = 3) -> pd.DataFrame:
    """Wide text table of paired differences from ``reference``: "mean [low, high]" per metric."""
    d = cmp.differences(reference)
    d["cell"] = [f"{m:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"
                 for m, lo, hi in zip(d["difference"], d["ci_low"], d["ci_high"])]
    wide = d.pivot(index=["model", "method"], columns="metric", values="cell")
    order = pd.MultiIndex.from_tuples(list(dict.fromkeys(zip(d["model"], d["method"]))), names=["model", "method"])
    return wide.reindex(order)[[m for m in METRICS if m in wide.columns]]


def _verdict(cmp: Comparison, robust: str, reference: str, method: str = "gradient") -> str:
    """One sentence per metric: does ``robust`` beat ``reference`` for ``method`` (paired interval)?"""
    d = cmp.differences(reference)
    d = d[(d["model"] == robust) & (d["method"] == method)]
    parts = []
    for _, r in d.iterrows():
        sign = DIRECTION[r["metric"]]
        if sign == 0:
            continue
        lo, hi = sorted((sign * r["ci_low"], sign * r["ci_high"]))  # interval of the improvement
        better, worse = lo > 0, hi < 0
        word = "better" if better else ("worse" if worse else "no clear difference")
        parts.append(f"{r['metric']} {r['difference']:+.3f} ({word})")
    return f"{robust} minus {reference}, {method} maps: " + "; ".join(parts) + "."


def demo(section, options) -> None:
    """Pictures (saliency grids) and numbers (every metric, with a random baseline) for the zoo's models."""
    import torch

    from optimist.core import zoo
    from optimist.core.data import load_dataset, subset

    extra = dict(options.extra or {})
    settings = dict(QUICK if options.quick else DEFAULT)
    names = ladder_names("default")[::2] if options.quick else ladder_names(extra.get("ladder", "default"))
    for key in ("n", "steps", "n_figure", "sensitivity_n"):
        if key in extra:
            settings[key] = int(extra[key])
    methods = list(extra.get("methods", ("gradient", "input-x-gradient", "integrated-gradients", "smoothgrad",
                                         "guided-backprop")))
    target = extra.get("target", "predicted")

    models = {display_name(n): zoo.get(n, root=options.zoo_root, progress=not options.quick).to(options.device)
              for n in names}
    epsilons = {display_name(n): training_epsilon(n) for n in names}
    reference, robust = "standard", list(models)[-1]
    test = subset(load_dataset("fashion-mnist", "test"), settings["n"], seed=options.seed)

    torch.manual_seed(options.seed)
    t0, c0 = time.perf_counter(), time.process_time()
    cmp = compare(models, test, methods, target=target, seed=options.seed, progress=not options.quick, **settings)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0

    section.add_text(
        "Claim (Tsipras et al. 2019; Etmann et al. 2019): the input gradients of adversarially trained models "
        "are perceptually aligned - their saliency maps look like the object - while a standard model's look "
        "like noise. Below, every model explains its own predicted class on the same "
        f"{cmp.settings['n']} Fashion-MNIST test images with five captum methods, and a random map (Gaussian "
        "noise) shows what each metric scores without signal."
    )
    section.add_figure(cmp.grid_figure(methods=["gradient"], images_as_columns=True), "gradients",
                       "Signed input gradient of the predicted logit (red: raises it, blue: lowers it), standard "
                       "model and models adversarially trained with growing epsilon.")
    section.add_figure(cmp.grid_figure(models=[reference, robust], methods=methods + ["random"]), "all-methods",
                       f"Every method for the standard model and {robust}.")
    section.add_figure(cmp.epsilon_figure(epsilons), "metric-vs-epsilon",
                       "Mean and 95% interval over images against the training epsilon; dashed grey: random maps.")
    summary = cmp.summary()
    section.add_table(summary, "Saliency metrics",
                      "Mean ± half-width of the 95% interval over images. " +
                      " ".join(f"{k}: {v}." for k, v in METRICS.items()))
    diffs = difference_table(cmp, reference)
    section.add_table(diffs, f"Paired differences from the {reference} model",
                      "Per-image difference (model minus standard), mean and 95% interval.")
    acc = pd.DataFrame({"accuracy on the scored images": cmp.accuracy,
                        "training epsilon": {k: v[1] for k, v in epsilons.items()}})
    section.add_table(acc, "Models")
    verdict = _verdict(cmp, robust, reference)
    section.add_text(verdict)
    section.add_settings({"zoo_models": names, **cmp.settings, "compute_seconds": round(seconds, 1),
                          "cpu_seconds": round(cpu_seconds, 1)})

    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(summary.to_string())
        print()
        print(diffs.xs("gradient", level="method").to_string())
        print(verdict)
        print(f"[interpretability] metrics computed in {seconds:.1f} s ({cpu_seconds:.1f} s of CPU time)")
