"""How robust are the diffusion demo's noise-aware classifiers? ``python scripts/noise_classifier_robustness.py``.

Loads the two cached noise-aware classifiers of ``optimist demo diffusion`` (run it first; its default settings, or
pass ``--steps``/``--width`` to match yours) and prints, for several diffusion steps t, their clean accuracy and
their accuracy under L2 PGD of radius ``--eps`` on x_t (the training threat of the adversarial one) with more steps
than training used and no early stop: does adversarial training at this budget make a difference?
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch

from optimist.core.data import load_dataset, subset
from optimist.generation.diffusion.cache import get_noise_classifier
from optimist.generation.diffusion.noise_classifier import NoiseClassifierConfig, attack_noised, noised_test_set
from optimist.generation.diffusion.train_ddpm import make_scheduler


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=500, help="test images (default 500)")
    p.add_argument("--eps", type=float, default=0.5, help="L2 radius on x_t in [-1, 1] units (default 0.5)")
    p.add_argument("--attack-steps", type=int, default=20)
    p.add_argument("--steps", type=int, default=1500, help="the classifiers' optimiser steps (demo default 1500)")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--batch", type=int, default=64, help="the classifiers' batch size (demo default 64)")
    p.add_argument("--timesteps", type=int, nargs="+", default=[0, 100, 250, 400, 600, 800])
    args = p.parse_args(argv)
    torch.manual_seed(0)
    test = subset(load_dataset("fashion-mnist", "test"), args.n, seed=0)
    cfg = dict(steps=args.steps, batch_size=args.batch, width=args.width)
    models = {}
    for name, eps in (("standard", 0.0), ("adversarial", 0.5)):
        model, info = get_noise_classifier(NoiseClassifierConfig(eps=eps, **cfg), progress=False)
        if not info.get("cached"):
            p.error("the classifier was not cached: run `optimist demo diffusion` first")
        models[name] = model
    scheduler = make_scheduler()
    rows = []
    for t in args.timesteps:
        x_t, tt = noised_test_set(test.images, scheduler, t, seed=0)
        for name, model in models.items():
            with torch.no_grad():
                clean = (model(x_t, tt).argmax(1) == test.targets).float().mean().item()
            adv = attack_noised(model, x_t, test.targets, tt, args.eps, args.attack_steps, early_stop=False)
            with torch.no_grad():
                robust = (model(adv, tt).argmax(1) == test.targets).float().mean().item()
            rows.append({"t": t, "classifier": name, "clean": clean, f"L2 {args.eps:g} PGD-{args.attack_steps}": robust,
                         "noise norm": float(((1 - scheduler.alphas_cumprod[t]).sqrt() * x_t[0].numel() ** 0.5))})
    table = pd.DataFrame(rows).pivot(index="t", columns="classifier")
    print(table.round(3).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
