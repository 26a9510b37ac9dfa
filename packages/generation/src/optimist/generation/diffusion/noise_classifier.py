"""Noise-aware (time-dependent) classifiers p(y | x_t, t), trained on noised images as in Dhariwal & Nichol
(2021), and their adversarially trained version (Kawar, Ganz & Elad 2022: L2 PGD with eps = 0.5 on x_t in
[-1, 1] pixel units, 7 steps of 2.5 eps / 7, each example stopped once misclassified; AdamW, lr 3e-4).

The attack runs on x_t itself through Optimist's PGD engine. PGD works on images in [0, 1], so x_t (unbounded)
is clipped to [-R, R] (R = 6: Gaussian noise essentially never exceeds it) and mapped affinely to [0, 1]; the
L2 radius is rescaled by the same factor, so the threat is exactly L2 eps on x_t. The objective reports which
examples are misclassified, so the engine's per-example early stop applies.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from optimist.core.attacks import Threat, pgd
from optimist.core.errors import InputError
from optimist.core.runtime import evaluating
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


def noised_cross_entropy(model: nn.Module, u: torch.Tensor, y: NoisedTargets
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """PGD objective: per-example cross-entropy of ``model(x_t, t)`` with x_t given in [0, 1] units, and
    which examples are misclassified (PGD's success, for its early stop)."""
    logits = model(from_unit(u), y.t)
    return nn.functional.cross_entropy(logits, y.labels, reduction="none"), logits.argmax(1) != y.labels


def attack_noised(model: nn.Module, x_t: torch.Tensor, labels: torch.Tensor, t: torch.Tensor, eps: float,
                  steps: int, *, early_stop: bool = True) -> torch.Tensor:
    """L2 PGD of radius ``eps`` (model-space units) on x_t, step 2.5 eps / steps, from x_t itself (no random
    start); with ``early_stop`` an example is no longer moved once misclassified, so one misclassified from the
    start comes back unchanged. Returns the adversarial x_t (a fooled iterate first, else the highest loss)."""
    threat = Threat("l2", eps / (2 * RANGE))
    u = pgd(model, to_unit(x_t), NoisedTargets(labels, t), threat, steps=steps, objective=noised_cross_entropy,
            early_stop=early_stop, random_start=False)
    return from_unit(u)


LR_SCHEDULES = ("constant", "onecycle")


@dataclass(frozen=True)
class NoiseClassifierConfig:
    """Training settings; ``eps`` > 0 trains adversarially. Defaults follow Kawar et al.'s script (AdamW lr 3e-4,
    weight decay 0.05, constant rate; L2 0.5, 7 steps, per-example early stop), scaled down in ``steps``."""

    steps: int = 1500
    batch_size: int = 128
    lr: float = 3e-4
    weight_decay: float = 0.05
    lr_schedule: str = "constant"  # or "onecycle" (warm-up then cosine decay to ~0)
    eps: float = 0.0
    attack_steps: int = 7
    early_stop: bool = True
    width: int = 32
    seed: int = 0

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.eps < 0 or self.attack_steps < 1 or self.width < 8:
            raise InputError(f"invalid noise-classifier config (steps, batch_size, attack_steps >= 1, eps >= 0, "
                             f"width >= 8): {self}")
        if not self.lr > 0 or self.weight_decay < 0:
            raise InputError(f"lr must be > 0 and weight_decay >= 0, got {self.lr}, {self.weight_decay}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise InputError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")

    @property
    def adversarial(self) -> bool:
        return self.eps > 0

    def to_dict(self) -> dict:
        return asdict(self)


def train_noise_classifier(images: torch.Tensor, labels: torch.Tensor, scheduler,
                           config: NoiseClassifierConfig = NoiseClassifierConfig(), *, progress: bool = True,
                           num_classes: int = 10) -> tuple[NoiseAwareClassifier, dict]:
    """Train on x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps, t uniform; adversarially on PGD x_t when ``eps`` > 0.

    The history holds the loss per step, the fraction of each batch the attack fooled, and the wall time.
    """
    if images.shape[0] != labels.shape[0]:
        raise InputError(f"{images.shape[0]} images but {labels.shape[0]} labels")
    g = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    model = NoiseAwareClassifier(num_classes, width=config.width)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.lr_schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.steps)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    data = to_model_space(images.float())
    T = scheduler.config.num_train_timesteps
    losses, fooled, start = [], [], time.time()
    desc = "noise-aware classifier" + (f" (adversarial, L2 {config.eps:g})" if config.adversarial else "")
    bar = tqdm(range(config.steps), desc=desc, disable=not progress, mininterval=5)
    for step in bar:
        idx = torch.randint(0, data.shape[0], (config.batch_size,), generator=g)
        x0, y = data[idx], labels[idx].long()
        if torch.rand((), generator=g) < 0.5:  # horizontal flips, as for the DDPM
            x0 = x0.flip(-1)
        t = torch.randint(0, T, (len(idx),), generator=g)
        x_t = scheduler.add_noise(x0, torch.randn(x0.shape, generator=g), t)
        if config.adversarial:
            model.eval()
            x_t = attack_noised(model, x_t, y, t, config.eps, config.attack_steps, early_stop=config.early_stop)
        model.train()
        logits = model(x_t, t)
        loss = nn.functional.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        fooled.append((logits.argmax(1) != y).float().mean().item())
        if step % 100 == 0:
            bar.set_postfix(loss=f"{sum(losses[-100:]) / len(losses[-100:]):.3f}")
    return model.eval(), {"loss": losses, "train error": fooled, "seconds": time.time() - start,
                          "config": config.to_dict()}


TIMESTEPS = tuple(range(0, 1000, 50))  # the accuracy-versus-t grid


def noised_test_set(images: torch.Tensor, scheduler, t: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t, t tensor): model-space ``images`` noised to step ``t`` with noise drawn from ``seed`` and ``t``.

    The same seed gives the same noise for every model judged at this ``t``.
    """
    if not 0 <= t < scheduler.config.num_train_timesteps:
        raise InputError(f"t must be in [0, {scheduler.config.num_train_timesteps}), got {t}")
    g = torch.Generator().manual_seed(seed * 1000 + int(t))
    x0 = to_model_space(images.float())
    tt = torch.full((x0.shape[0],), int(t), dtype=torch.long)
    return scheduler.add_noise(x0, torch.randn(x0.shape, generator=g), tt), tt


@torch.no_grad()
def noised_accuracy(model: NoiseAwareClassifier, images: torch.Tensor, labels: torch.Tensor, scheduler, *,
                    timesteps: tuple[int, ...] = TIMESTEPS, seed: int = 0, batch_size: int = 500
                    ) -> dict[int, float]:
    """Accuracy of ``model`` on test images noised to each of ``timesteps`` (see :func:`noised_test_set`)."""
    device = next(model.parameters()).device
    out = {}
    with evaluating(model):
        for t in timesteps:
            x_t, tt = noised_test_set(images, scheduler, t, seed=seed)
            pred = torch.cat([model(x_t[i:i + batch_size].to(device), tt[i:i + batch_size].to(device)).argmax(1)
                              for i in range(0, len(x_t), batch_size)]).cpu()
            out[int(t)] = (pred == labels.cpu()).float().mean().item()
    return out
