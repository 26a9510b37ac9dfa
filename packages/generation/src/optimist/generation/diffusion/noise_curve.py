"""Accuracy versus diffusion step t: how much a classifier can still tell about the class from x_t.

Two kinds of reader see the same noised test images (same seed, same noise per t):

* noise-aware classifiers p(y | x_t, t) (standard, adversarial), the ones noise-aware guidance uses;
* clean-image classifiers on the DDPM's one-step estimate x0_hat = (x_t - sqrt(1 - a_t) eps_theta) / sqrt(a_t),
  the image x0_hat guidance judges. This is the context for the noise-aware curve: with the linear beta schedule
  a_750 ~ 0.003, so x_t keeps little of the image and accuracy at large t is bounded by information, not by
  training. The table also gives a_t and the per-pixel signal-to-noise ratio sqrt(a_t / (1 - a_t)).
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from optimist.core.errors import InputError
from optimist.core.runtime import evaluating, model_device, predict
from optimist.generation.diffusion.noise_classifier import TIMESTEPS, noised_accuracy, noised_test_set
from optimist.generation.diffusion.unet import to_image_space


@torch.no_grad()
def one_step_x0(unet: nn.Module, scheduler, x_t: torch.Tensor, t: torch.Tensor, *, batch_size: int = 250
                ) -> torch.Tensor:
    """The DDPM's x0_hat from x_t in one step, as (N, 1, 28, 28) images in [0, 1] (clamped)."""
    device = model_device(unet)
    a = scheduler.alphas_cumprod[t].to(x_t.dtype)[:, None, None, None]
    out = []
    with evaluating(unet):
        for i in range(0, len(x_t), batch_size):
            eps = unet(x_t[i:i + batch_size].to(device), t[i:i + batch_size].to(device)).sample.cpu()
            ai = a[i:i + batch_size]
            out.append((x_t[i:i + batch_size] - (1 - ai).sqrt() * eps) / ai.sqrt())
    return to_image_space(torch.cat(out))


@torch.no_grad()
def denoised_accuracy(unet: nn.Module, classifiers: dict[str, nn.Module], images: torch.Tensor,
                      labels: torch.Tensor, scheduler, *, timesteps: tuple[int, ...] = TIMESTEPS, seed: int = 0,
                      progress: bool = False) -> dict[str, dict[int, float]]:
    """Accuracy of each clean-image classifier on the one-step x0_hat of ``images`` noised to each t."""
    out: dict[str, dict[int, float]] = {name: {} for name in classifiers}
    for t in tqdm(timesteps, desc="x0-hat accuracy", disable=not progress):
        x_t, tt = noised_test_set(images, scheduler, t, seed=seed)
        x0 = one_step_x0(unet, scheduler, x_t, tt)
        for name, clf in classifiers.items():
            out[name][int(t)] = (predict(clf, x0.to(model_device(clf))).cpu() == labels.cpu()).float().mean().item()
    return out


def accuracy_curve(noise_models: dict[str, nn.Module], images: torch.Tensor, labels: torch.Tensor, scheduler, *,
                   unet: nn.Module | None = None, clean_models: dict[str, nn.Module] | None = None,
                   timesteps: tuple[int, ...] = TIMESTEPS, seed: int = 0, progress: bool = False) -> pd.DataFrame:
    """One row per t: a_t, per-pixel SNR, each noise-aware model's accuracy on x_t and (with ``unet``) each
    clean model's accuracy on the one-step x0_hat. Columns of the readers are prefixed "x_t: " / "x0-hat: "."""
    if len(timesteps) == 0:
        raise InputError("timesteps is empty")
    a = scheduler.alphas_cumprod
    table = pd.DataFrame({"alpha_bar": [float(a[t]) for t in timesteps],
                          "snr": [float((a[t] / (1 - a[t])).sqrt()) for t in timesteps]},
                         index=pd.Index([int(t) for t in timesteps], name="t"))
    for name, model in noise_models.items():
        acc = noised_accuracy(model, images, labels, scheduler, timesteps=timesteps, seed=seed)
        table[f"x_t: {name}"] = [acc[int(t)] for t in timesteps]
    if unet is not None and clean_models:
        den = denoised_accuracy(unet, clean_models, images, labels, scheduler, timesteps=timesteps, seed=seed,
                                progress=progress)
        for name, acc in den.items():
            table[f"x0-hat: {name}"] = [acc[int(t)] for t in timesteps]
    return table


def plot_accuracy_curve(table: pd.DataFrame, *, chance: float | None = 0.1):
    """Accuracy versus t, one line per reader (noise-aware solid, x0-hat dashed), a_t on a second axis."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for col in table.columns:
        if col.startswith("x_t: ") or col.startswith("x0-hat: "):
            ax.plot(table.index, table[col], marker="o", ms=3, linestyle="-" if col.startswith("x_t") else "--",
                    label=col.replace("x_t: ", "noise-aware on x_t, ").replace("x0-hat: ", "clean on x0-hat, "))
    if chance is not None:
        ax.axhline(chance, color="gray", linestyle=":", label="chance")
    ax.set_xlabel("diffusion step t")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax2 = ax.twinx()
    ax2.plot(table.index, table["alpha_bar"], color="black", alpha=0.3, linewidth=1)
    ax2.set_yscale("log")
    ax2.set_ylabel("alpha_bar_t (grey)")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig
