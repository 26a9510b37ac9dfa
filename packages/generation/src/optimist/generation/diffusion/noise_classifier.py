"""Noise-aware (time-dependent) classifiers p(y | x_t, t), trained on noised images as in Dhariwal & Nichol
(2021), and their adversarially trained version (Kawar, Ganz & Elad 2022: L2 PGD with eps = 0.5 on x_t in
[-1, 1] pixel units, a few steps).

The attack runs on x_t itself through Optimist's PGD engine. PGD works on images in [0, 1], so x_t (unbounded)
is clipped to [-R, R] (R = 6: Gaussian noise essentially never exceeds it) and mapped affinely to [0, 1]; the
L2 radius is rescaled by the same factor, so the threat is exactly L2 eps on x_t.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from optimist.core.attacks import Threat, pgd
from optimist.generation.diffusion.unet import to_model_space

RANGE = 6.0  # x_t in [-RANGE, RANGE] <-> [0, 1] for the attack


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of (N,) timesteps, as in the DDPM UNet."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=1)


class _TimeBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, t_dim: int, stride: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)
        self.norm = nn.GroupNorm(8, c_out)
        self.film = nn.Linear(t_dim, 2 * c_out)

    def forward(self, x, temb):
        scale, shift = self.film(temb)[:, :, None, None].chunk(2, dim=1)
        return nn.functional.silu(self.norm(self.conv(x)) * (1 + scale) + shift)


class NoiseAwareClassifier(nn.Module):
    """A small CNN on (N, 1, 32, 32) model-space x_t, conditioned on t by FiLM; returns logits."""

    def __init__(self, num_classes: int = 10, width: int = 32, t_dim: int = 64):
        super().__init__()
        self.num_classes, self.t_dim = num_classes, t_dim
        self.t_mlp = nn.Sequential(nn.Linear(t_dim, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        self.blocks = nn.ModuleList([
            _TimeBlock(1, width, t_dim, 1),          # 32x32
            _TimeBlock(width, 2 * width, t_dim, 2),  # 16x16
            _TimeBlock(2 * width, 2 * width, t_dim, 2),  # 8x8
            _TimeBlock(2 * width, 4 * width, t_dim, 2),  # 4x4
        ])
        self.head = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, device=x.device).reshape(-1).expand(x.shape[0])
        temb = self.t_mlp(timestep_embedding(t, self.t_dim))
        h = x
        for block in self.blocks:
            h = block(h, temb)
        return self.head(h.mean((2, 3)))


@dataclass
class NoisedTargets:
    """Labels and timesteps for the PGD objective; indexable by rows as PGD's ``y`` must be."""

    labels: torch.Tensor
    t: torch.Tensor

    def __getitem__(self, rows) -> "NoisedTargets":
        return NoisedTargets(self.labels[rows], self.t[rows])

    def __len__(self) -> int:
        return len(self.labels)


def to_unit(x_t: torch.Tensor) -> torch.Tensor:
    """Model-space x_t -> [0, 1] (clipped to [-RANGE, RANGE] first)."""
    return (x_t.clamp(-RANGE, RANGE) + RANGE) / (2 * RANGE)


def from_unit(u: torch.Tensor) -> torch.Tensor:
    return u * (2 * RANGE) - RANGE


def noised_cross_entropy(model: nn.Module, u: torch.Tensor, y: NoisedTargets) -> torch.Tensor:
    """PGD objective: per-example cross-entropy of ``model(x_t, t)`` with x_t given in [0, 1] units."""
    return nn.functional.cross_entropy(model(from_unit(u), y.t), y.labels, reduction="none")


def attack_noised(model: nn.Module, x_t: torch.Tensor, labels: torch.Tensor, t: torch.Tensor, eps: float,
                  steps: int) -> torch.Tensor:
    """L2 PGD of radius ``eps`` (model-space units) on x_t; returns the adversarial x_t."""
    threat = Threat("l2", eps / (2 * RANGE))
    u = pgd(model, to_unit(x_t), NoisedTargets(labels, t), threat, steps=steps, objective=noised_cross_entropy)
    return from_unit(u)


@dataclass(frozen=True)
class NoiseClassifierConfig:
    """Training settings; ``eps`` > 0 trains adversarially (Kawar et al.: 0.5 on x_t in [-1, 1])."""

    steps: int = 1500
    batch_size: int = 128
    lr: float = 2e-3
    eps: float = 0.0
    attack_steps: int = 5
    width: int = 32
    seed: int = 0

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.eps < 0 or self.attack_steps < 1:
            raise ValueError(f"invalid noise-classifier config: {self}")

    @property
    def adversarial(self) -> bool:
        return self.eps > 0

    def to_dict(self) -> dict:
        return asdict(self)


def train_noise_classifier(images: torch.Tensor, labels: torch.Tensor, scheduler,
                           config: NoiseClassifierConfig = NoiseClassifierConfig(), progress: bool = True,
                           num_classes: int = 10) -> tuple[NoiseAwareClassifier, dict]:
    """Train on x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps, t uniform; adversarially on PGD x_t when ``eps`` > 0."""
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
    g = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    model = NoiseAwareClassifier(num_classes, width=config.width)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.steps)
    data = to_model_space(images.float())
    T = scheduler.config.num_train_timesteps
    losses, start = [], time.time()
    desc = "noise-aware classifier" + (f" (adversarial, L2 {config.eps:g})" if config.adversarial else "")
    for _ in tqdm(range(config.steps), desc=desc, disable=not progress, mininterval=5):
        idx = torch.randint(0, data.shape[0], (config.batch_size,), generator=g)
        x0, y = data[idx], labels[idx].long()
        t = torch.randint(0, T, (len(idx),), generator=g)
        x_t = scheduler.add_noise(x0, torch.randn(x0.shape, generator=g), t)
        if config.adversarial:
            model.eval()
            x_t = attack_noised(model, x_t, y, t, config.eps, config.attack_steps)
        model.train()
        loss = nn.functional.cross_entropy(model(x_t, t), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return model.eval(), {"loss": losses, "seconds": time.time() - start, "config": config.to_dict()}


@torch.no_grad()
def noised_accuracy(model: NoiseAwareClassifier, images: torch.Tensor, labels: torch.Tensor, scheduler,
                    timesteps: tuple[int, ...] = (0, 250, 500, 750), seed: int = 0) -> dict[int, float]:
    """Accuracy on test images noised to each of ``timesteps``."""
    g = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    x0 = to_model_space(images.float())
    out = {}
    for t in timesteps:
        tt = torch.full((x0.shape[0],), t, dtype=torch.long)
        x_t = scheduler.add_noise(x0, torch.randn(x0.shape, generator=g), tt)
        pred = model(x_t.to(device), tt.to(device)).argmax(1).cpu()
        out[t] = (pred == labels).float().mean().item()
    return out
