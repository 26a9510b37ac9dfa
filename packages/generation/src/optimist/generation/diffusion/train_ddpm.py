"""Optimist's short DDPM training loop: the epsilon-prediction loss of Ho et al. (2020) on Fashion-MNIST.

``loss = || eps - eps_theta(sqrt(a_t) x0 + sqrt(1 - a_t) eps, t) ||^2`` with ``t`` uniform over the
scheduler's training steps. The loop is deliberately plain (Adam, constant learning rate after a short
warm-up, an EMA copy of the weights that is the one sampled from).
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import torch
from diffusers import DDPMScheduler, UNet2DModel
from tqdm.auto import tqdm

from optimist.core.errors import InputError
from optimist.generation.diffusion.unet import to_model_space

NUM_TRAIN_TIMESTEPS = 1000


@dataclass(frozen=True)
class DDPMTrainConfig:
    """How long and how hard to train. ``steps`` is the number of optimiser steps (batches)."""

    steps: int = 4000
    batch_size: int = 32
    lr: float = 2e-3
    warmup: int = 200
    ema_decay: float = 0.995
    train_size: int | None = None  # None: the whole training split
    seed: int = 0
    max_minutes: float | None = None  # stop early after this much wall time (the history says how far it got)

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1:
            raise InputError(f"steps and batch_size must be >= 1, got {self.steps}, {self.batch_size}")
        if not 0 <= self.ema_decay < 1:
            raise InputError(f"ema_decay must be in [0, 1), got {self.ema_decay}")

    def to_dict(self) -> dict:
        return asdict(self)


# The "mini" UNet on 2 CPU cores (about 20 CPU-minutes, measured per step); the GPU setting trains the "gpu" UNet.
CPU_TRAINING = DDPMTrainConfig()
GPU_TRAINING = DDPMTrainConfig(steps=40000, batch_size=128, lr=2e-4, warmup=1000, ema_decay=0.9995)


def make_scheduler() -> DDPMScheduler:
    """The linear-beta DDPM noise schedule (1000 steps) every model here is trained and sampled with."""
    return DDPMScheduler(num_train_timesteps=NUM_TRAIN_TIMESTEPS, beta_schedule="linear", prediction_type="epsilon",
                         clip_sample=True)


def ddpm_loss(unet: UNet2DModel, scheduler: DDPMScheduler, clean: torch.Tensor,
              generator: torch.Generator | None = None, timesteps: torch.Tensor | None = None,
              noise: torch.Tensor | None = None) -> torch.Tensor:
    """Mean denoising loss on ``clean`` images (N, 1, 32, 32) in [-1, 1]; ``timesteps`` and ``noise`` fix the draw."""
    n = clean.shape[0]
    if timesteps is None:
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (n,), generator=generator)
    if noise is None:
        noise = torch.randn(clean.shape, generator=generator)
    timesteps, noise = timesteps.to(clean.device), noise.to(clean.device)
    noisy = scheduler.add_noise(clean, noise, timesteps)
    return torch.nn.functional.mse_loss(unet(noisy, timesteps).sample, noise)


def train_step(unet: UNet2DModel, scheduler: DDPMScheduler, optimizer: torch.optim.Optimizer,
               clean: torch.Tensor, generator: torch.Generator | None = None) -> float:
    """One optimiser step on a batch of clean images in [-1, 1]; returns the loss before the step."""
    unet.train()
    loss = ddpm_loss(unet, scheduler, clean, generator)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
    optimizer.step()
    return loss.item()


@torch.no_grad()
def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for pe, p in zip(ema.parameters(), model.parameters()):
        pe.lerp_(p, 1 - decay)


def train_ddpm(unet: UNet2DModel, images: torch.Tensor, config: DDPMTrainConfig = CPU_TRAINING,
               progress: bool = True, device: str | torch.device = "cpu") -> tuple[UNet2DModel, dict]:
    """Train ``unet`` on ``images`` (N, 1, 28, 28) in [0, 1]; returns (EMA weights in eval mode, history)."""
    if images.ndim != 4 or images.shape[0] < 1:
        raise InputError(f"images must be a non-empty (N, 1, 28, 28) tensor, got {tuple(images.shape)}")
    g = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    if config.train_size is not None:
        images = images[torch.randperm(images.shape[0], generator=g)[:config.train_size]]
    data = to_model_space(images.float())
    unet = unet.to(device)
    ema = copy.deepcopy(unet).eval().requires_grad_(False)
    scheduler = make_scheduler()
    optimizer = torch.optim.Adam(unet.parameters(), lr=config.lr)
    warm = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(config.warmup, 1)))
    losses, start = [], time.time()
    bar = tqdm(range(config.steps), desc="DDPM training", disable=not progress, mininterval=5)
    for step in bar:
        idx = torch.randint(0, data.shape[0], (config.batch_size,), generator=g)
        batch = data[idx]
        if torch.rand((), generator=g) < 0.5:  # horizontal flips: garments are (nearly) symmetric
            batch = batch.flip(-1)
        losses.append(train_step(unet, scheduler, optimizer, batch.to(device), g))
        warm.step()
        # EMA decay ramps up so that short runs are not dominated by the random initialisation.
        _ema_update(ema, unet, min(config.ema_decay, (1 + step) / (10 + step)))
        if step % 50 == 0:
            bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.4f}")
        if config.max_minutes is not None and time.time() - start > 60 * config.max_minutes:
            break
    history = {"loss": losses, "steps_done": len(losses), "seconds": time.time() - start,
               "config": config.to_dict()}
    return ema.cpu().eval(), history
