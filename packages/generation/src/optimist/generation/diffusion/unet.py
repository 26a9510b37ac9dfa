"""The denoiser: a small diffusers ``UNet2DModel`` for 1-channel 28x28 images, and the pixel-space conventions.

Fashion-MNIST is 28x28, but a UNet halves the resolution at every level, so images are padded to 32x32 with
the background value (-1 in the model's [-1, 1] space) and cropped back at the end. Presets:

* ``tiny``: tests only (a few thousand parameters, no attention).
* ``mini``: the CPU default (:data:`~optimist.generation.diffusion.train_ddpm.CPU_TRAINING`: 4000 steps of 32
  images, measured at 0.30 CPU-seconds a step, i.e. about 20 CPU-minutes: roughly 10-15 minutes on 2 cores).
* ``small``: twice as wide (1.7 CPU-seconds a step at batch 64): for a bigger CPU budget.
* ``gpu``: wider, with attention at 8x8, for longer training on a GPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from diffusers import UNet2DModel

from optimist.core.errors import InputError

IMAGE_SIZE = 28
MODEL_SIZE = 32
PAD = (MODEL_SIZE - IMAGE_SIZE) // 2


@dataclass(frozen=True)
class UNetConfig:
    """The few ``UNet2DModel`` settings that matter here (everything else keeps diffusers' default)."""

    block_out_channels: tuple[int, ...] = (32, 64, 64)
    layers_per_block: int = 1
    attention: bool = False  # self-attention in the lowest-resolution block
    norm_num_groups: int = 8

    def __post_init__(self):
        if not self.block_out_channels or any(c <= 0 or c % self.norm_num_groups for c in self.block_out_channels):
            raise InputError(f"block_out_channels must be positive multiples of norm_num_groups="
                             f"{self.norm_num_groups}, got {self.block_out_channels}")
        if MODEL_SIZE % 2 ** (len(self.block_out_channels) - 1):
            raise InputError(f"{len(self.block_out_channels)} levels do not divide {MODEL_SIZE}x{MODEL_SIZE}")
        if self.layers_per_block < 1:
            raise InputError(f"layers_per_block must be >= 1, got {self.layers_per_block}")

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, UNetConfig] = {
    "tiny": UNetConfig(block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4),
    "mini": UNetConfig(block_out_channels=(16, 32, 32), layers_per_block=1, norm_num_groups=8),
    "small": UNetConfig(block_out_channels=(32, 64, 64), layers_per_block=1, norm_num_groups=8),
    "gpu": UNetConfig(block_out_channels=(64, 128, 256), layers_per_block=2, attention=True, norm_num_groups=32),
}


def unet_config(name_or_config: str | UNetConfig) -> UNetConfig:
    if isinstance(name_or_config, UNetConfig):
        return name_or_config
    if name_or_config not in PRESETS:
        raise InputError(f"unknown UNet preset {name_or_config!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name_or_config]


def build_unet(config: str | UNetConfig = "small") -> UNet2DModel:
    """A ``UNet2DModel`` predicting the noise of 1-channel 32x32 images in [-1, 1]."""
    cfg = unet_config(config)
    levels = len(cfg.block_out_channels)
    down = ["DownBlock2D"] * levels
    up = ["UpBlock2D"] * levels
    if cfg.attention:
        down[-1], up[0] = "AttnDownBlock2D", "AttnUpBlock2D"
    return UNet2DModel(
        sample_size=MODEL_SIZE,
        in_channels=1,
        out_channels=1,
        block_out_channels=tuple(cfg.block_out_channels),
        down_block_types=tuple(down),
        up_block_types=tuple(up),
        layers_per_block=cfg.layers_per_block,
        norm_num_groups=cfg.norm_num_groups,
        add_attention=cfg.attention,
        attention_head_dim=8,
    )


def to_model_space(images: torch.Tensor) -> torch.Tensor:
    """(N, 1, 28, 28) images in [0, 1] -> (N, 1, 32, 32) in [-1, 1], padded with the background (-1)."""
    if images.ndim != 4 or images.shape[1:] != (1, IMAGE_SIZE, IMAGE_SIZE):
        raise InputError(f"images must have shape (N, 1, {IMAGE_SIZE}, {IMAGE_SIZE}), got {tuple(images.shape)}")
    return torch.nn.functional.pad(images * 2 - 1, (PAD, PAD, PAD, PAD), value=-1.0)


def crop(x: torch.Tensor) -> torch.Tensor:
    """(N, C, 32, 32) -> (N, C, 28, 28): drop the padding."""
    return x[..., PAD:PAD + IMAGE_SIZE, PAD:PAD + IMAGE_SIZE]


def to_image_space(x: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """(N, 1, 32, 32) in [-1, 1] -> (N, 1, 28, 28) in [0, 1] (cropped; clamped unless ``clamp=False``)."""
    out = crop(x) / 2 + 0.5
    return out.clamp(0, 1) if clamp else out
