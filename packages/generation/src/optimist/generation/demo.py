"""``optimist demo generation``: the six tasks on the zoo's standard model and the robust ladder, judged by
the zoo's independent LeNet evaluator; grids per task, an overview figure and the metrics table."""

from __future__ import annotations

import time
from dataclasses import replace

import pandas as pd

from optimist.generation.evaluate import improvement_summary, train_evaluator
from optimist.generation.figures import overview, task_grid
from optimist.generation.showcase import ShowcaseConfig, real_reference, run_showcase

STANDARD = "fashion-mnist/small-cnn/standard"
ROBUST = "fashion-mnist/small-cnn/linf-0.1"
MIDDLE = "fashion-mnist/small-cnn/linf-0.05"
EVALUATOR = "fashion-mnist/lenet/evaluator"
LABELS = {STANDARD: "standard", MIDDLE: "linf-0.05", ROBUST: "linf-0.1 (robust)"}
FLOORED_TASKS = ("class-generation", "translation")


def _generators(options, quick: bool) -> dict:
    from optimist.core import zoo

    names = options.extra.get("generators") or ([STANDARD, ROBUST] if quick else [STANDARD, MIDDLE, ROBUST])
    return {LABELS.get(n, n.split("/")[-1]): zoo.get(n, root=options.zoo_root, progress=not quick) for n in names}


def _evaluator(options, quick: bool, train) -> tuple[object, str]:
    from optimist.core import zoo

    if quick and not zoo.is_cached(EVALUATOR, options.zoo_root):
        model = train_evaluator(train, arch="mlp", n=3000, epochs=1, seed=7)
        return model, ("an MLP trained for 1 epoch on 3,000 images (quick mode: the zoo's LeNet evaluator is "
                       "not cached here; numbers are a smoke test only)")
    return zoo.get(EVALUATOR, root=options.zoo_root, progress=not quick), f"{EVALUATOR} (LeNet, seed 7)"


def _config(options) -> ShowcaseConfig:
    extra = options.extra
    cfg = ShowcaseConfig(seed=options.seed)
    if options.quick:
        cfg = ShowcaseConfig(per_class=2, n_inputs=10, n_units=4, seed=options.seed).scaled_steps(0.25)
    keys = {"per_class", "n_inputs", "n_units", "seed_resolution", "sr_factor", "mask_size", "lam", "confidence"}
    changes = {k: extra[k] for k in keys if k in extra}
    if changes:
        cfg = ShowcaseConfig(**{**cfg.__dict__, **changes})
    if "steps_factor" in extra:
        cfg = cfg.scaled_steps(float(extra["steps_factor"]))
    return cfg


def _robust_name(names: list[str]) -> str:
    return next((n for n in names if "robust" in n), names[-1])


def demo(section, options) -> None:
    """Run the showcase into ``section``.

    ``options.extra`` may set ``generators`` (zoo names, standard first), ``per_class``, ``n_inputs``,
    ``n_units``, ``seed_resolution``, ``sr_factor``, ``mask_size``, ``lam``, ``confidence`` and
    ``steps_factor`` (multiplies every task's PGD steps).
    """
    from optimist.core.data import load_dataset

    t0 = time.perf_counter()
    train = load_dataset("fashion-mnist", "train")
    test = load_dataset("fashion-mnist", "test")
    generators = {k: m.to(options.device) for k, m in _generators(options, options.quick).items()}
    evaluator, evaluator_about = _evaluator(options, options.quick, train)
    evaluator = evaluator.to(options.device)
    cfg = _config(options)
    t_models = time.perf_counter()
    reference = real_reference(evaluator, test, cfg)
    out = run_showcase(generators, evaluator, train, test, cfg, progress=not options.quick, reference=reference)
    # Generation and translation again without the confidence floor (Santurkar et al.'s protocol: descend
    # the cross-entropy for the whole budget), to show what the floor changes.
    free_cfg = replace(cfg, confidence=None, tasks=tuple(t for t in cfg.tasks if t in FLOORED_TASKS))
    free = run_showcase(generators, evaluator, train, test, free_cfg, progress=not options.quick,
                        reference=reference) if free_cfg.tasks and cfg.confidence is not None else None
    compute_s = time.perf_counter() - t_models

    names = list(generators)
    robust, standard = _robust_name(names), names[0]
    table = out.table.set_index(["task", "generator"])
    gains = improvement_summary(out.table, robust, standard)
    headline = _headline(out.table, names)

    section.add_text(
        "A classifier can generate: start from a seed and run targeted L2 PGD on the classifier's own loss "
        "(Santurkar et al. 2019; Engstrom et al. 2019). Every task below drives core's PGD engine with its own "
        "objective, from the same seeds for every model. A robust model's gradients point toward features a "
        "person recognises; a standard model's toward small, non-robust patterns.\n\n"
        f"Generators: {', '.join(names)} (small-cnn). Judge: {evaluator_about}; it never generates. Metrics: "
        "evaluator accuracy (is the image its target class to an independent classifier?), noised accuracy (the "
        "same under Gaussian pixel noise of sigma 0.1, four draws: a standard model's small adversarial patterns "
        "transfer to a standard evaluator but do not survive the noise, while a shape does), Fréchet distance in "
        "the evaluator's 1024-d penultimate features projected on the top 16 principal components of real "
        "test images (lower is better; few samples bias it upward, so the 'real images' row, an equally small "
        "set of real test images, is the floor, and its spread across tasks, about 10 to 20 at these sizes, "
        "shows how large a difference must be to mean something), per-class diversity (mean pairwise feature "
        "distance), and "
        "MSE/SSIM to the ground truth where one exists. 'seed (no PGD)' is the starting point.\n\n"
        "Budgets are L2 in [0, 1] pixels, scaled from the ImageNet notebooks by sqrt(784 / 150,528) = 0.072 "
        "(same RMS change per pixel): "
        + ", ".join(f"{t} eps {b.eps:.2f}, {b.steps} steps of {b.step_size:g}" for t, b in cfg.budgets.items()
                    if t in cfg.tasks)
        + " (inf: unbounded). Class seeds come from per-class Gaussians fitted at "
        f"{cfg.seed_resolution}x{cfg.seed_resolution} and upsampled (Santurkar et al. fit at 32x32 for 224x224 "
        "images; at full 28x28 resolution the samples are already recognisable garments, leaving a generator "
        "nothing to do).\n\n"
        + (f"Generation and translation stop changing an image once the generator gives its target probability "
           f"{cfg.confidence} (a cross-entropy floor, as Carlini and Wagner's confidence margin). Without it, PGD "
           "keeps raising a standard model's confidence with small non-robust patterns, and those patterns "
           "transfer to the standard evaluator (the non-robust features of Ilyas et al. 2019), so evaluator "
           "accuracy rates both generators alike even where the images differ; the table 'Without the "
           "confidence floor' shows it. Inpainting and super-resolution follow Santurkar et al. (no floor)."
           if cfg.confidence is not None else "No confidence floor: every task descends its objective for the "
           "whole budget, as Santurkar et al. do.")
    )
    section.add_figure(overview(out.results, test.info.class_names, n=6), "overview",
                       "Each task: the seeds, then each model's output from those seeds (standard first, robust "
                       "last), and the ground truth where there is one.")
    section.add_table(headline, "Robust vs standard",
                      "Evaluator accuracy and Fréchet distance per task (same seeds).")
    section.add_table(table, "Metrics", "All measures, every task and generator model.")
    if free is not None:
        section.add_table(_headline(free.table, names), "Without the confidence floor",
                          "Generation and translation when PGD descends the cross-entropy for the whole budget "
                          f"(Santurkar et al.'s protocol) instead of stopping at {cfg.confidence} confidence.")
    if not gains.empty:
        section.add_table(gains, "Robust minus standard",
                          f"Positive = {robust} better than {standard} (accuracy and SSIM gain; FD and MSE drop).")
    for task, results in out.results.items():
        section.add_figure(task_grid(results, test.info.class_names, n=10, title=task), task,
                           f"{task}: seeds, then each model's output, then the ground truth if any.")
    section.add_settings({"generators": {k: getattr(m, "card", {}).get("name", k) for k, m in generators.items()},
                          "evaluator": evaluator_about, "quick": options.quick,
                          "config": {k: (v if k != "budgets" else {t: b.to_dict() for t, b in v.items()})
                                     for k, v in cfg.__dict__.items()},
                          "compute_seconds": round(compute_s, 1),
                          "total_seconds": round(time.perf_counter() - t0, 1)})
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.float_format", "{:.3f}".format):
        print(headline.to_string())
        if free is not None:
            print("without the confidence floor:")
            print(_headline(free.table, names).to_string())
        print(f"[generation] showcase compute {compute_s:.1f} s (models loaded beforehand)", flush=True)


def _headline(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Task rows; evaluator accuracy and FD columns per generator (with seed and real-image references)."""
    t = table[table["evaluator accuracy"].notna()] if "evaluator accuracy" in table else table.iloc[0:0]
    if t.empty:
        return pd.DataFrame()
    order = ["seed (no PGD)", *names, "real images"]
    parts = []
    for col, short in (("evaluator accuracy", "acc"), ("noised accuracy", "noised acc"), ("frechet", "FD")):
        if col not in t:
            continue
        wide = t.pivot(index="task", columns="generator", values=col)
        cols = [c for c in order if c in wide.columns]
        wide = wide[cols]
        wide.columns = [f"{short}: {c}" for c in cols]
        parts.append(wide)
    tasks = list(dict.fromkeys(t["task"]))
    return pd.concat(parts, axis=1).loc[tasks]


demo.opt_in = False
