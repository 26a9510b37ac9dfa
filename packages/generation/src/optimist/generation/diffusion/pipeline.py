"""A classifier-guided sampling pipeline in diffusers' style (an unrolled loop, gradients only where needed).

diffusers ships no classifier-guidance pipeline; this one follows ``pipeline_ddpm.py`` and adds, at every
step, the gradient of ``log p(y | x_t)`` from a :class:`~optimist.generation.diffusion.guidance.Guidance`.
As in Dhariwal & Nichol (2021, Alg. 2) the noise prediction is shifted,

    eps_hat = eps_theta(x_t, t) - s * sqrt(1 - alpha_bar_t) * grad_x log p(y | x_t),

which for DDIM is exact classifier guidance and for DDPM moves the posterior mean by ``s * beta_t / sqrt(alpha_t)
* grad`` (about ``s * Sigma * grad``, the paper's mu + s Sigma grad). Scale 0 skips the gradient: the result is
bit-identical to unguided sampling. Optionally, finished samples are refined with BIGRoC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from diffusers import DDIMScheduler, DDPMScheduler, DiffusionPipeline, UNet2DModel
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from optimist.core.errors import InputError
from optimist.generation.diffusion.guidance import Guidance
from optimist.generation.diffusion.unet import to_image_space

Refiner = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class GuidedPipelineOutput(BaseOutput):
    """``images``: (N, 1, 28, 28) float tensor in [0, 1]; ``labels``: the requested classes."""

    images: torch.Tensor
    labels: torch.Tensor


class GuidedDiffusionPipeline(DiffusionPipeline):
    """Unconditional DDPM/DDIM sampling steered toward requested classes by any classifier's gradient.

    Args:
        unet: a ``UNet2DModel`` predicting noise on (N, 1, 32, 32) images in [-1, 1].
        scheduler: a ``DDPMScheduler`` or ``DDIMScheduler``.
    """

    model_cpu_offload_seq = "unet"

    def __init__(self, unet: UNet2DModel, scheduler: DDPMScheduler | DDIMScheduler):
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler)

    def guide(self, noise_pred: torch.Tensor, sample: torch.Tensor, t: torch.Tensor, labels: torch.Tensor,
              guidance: Guidance, guidance_scale: float) -> torch.Tensor:
        """eps_hat = eps - s * sqrt(1 - alpha_bar_t) * grad_x log p(y | x_t) (gradients enabled just here)."""
        with torch.enable_grad():
            grad = guidance.gradient(self.unet, self.scheduler, sample, t, labels)
        alpha_bar = self.scheduler.alphas_cumprod.to(sample.device)[t]
        return noise_pred - guidance_scale * (1 - alpha_bar).sqrt() * grad

    @torch.no_grad()
    def __call__(
        self,
        class_labels: torch.Tensor | list[int],
        guidance: Guidance | None = None,
        guidance_scale: float = 0.0,
        num_inference_steps: int = 50,
        generator: torch.Generator | None = None,
        refine: Refiner | None = None,
        eta: float = 0.0,
        return_dict: bool = True,
    ) -> GuidedPipelineOutput | tuple:
        """Sample one image per entry of ``class_labels``.

        Args:
            class_labels: requested classes (used only by ``guidance`` and ``refine``).
            guidance: gives grad_x log p(y | x_t); ``None`` (or scale 0) samples unguided.
            guidance_scale: ``s`` above, >= 0.
            num_inference_steps: denoising steps (DDIM may use few; DDPM should use its training steps).
            generator: a torch Generator: the same seed gives the same images.
            refine: ``refine(images, labels) -> images`` applied to the finished samples in [0, 1] (BIGRoC).
            eta: DDIM's noise level (ignored by DDPM).
        """
        labels = torch.as_tensor(class_labels, dtype=torch.long).flatten()
        if labels.numel() == 0:
            raise InputError("class_labels is empty: ask for at least one image")
        if guidance_scale < 0:
            raise InputError(f"guidance_scale must be >= 0, got {guidance_scale}")
        if guidance_scale > 0 and guidance is None:
            raise InputError("guidance_scale > 0 needs a guidance (e.g. CleanGuidance(classifier))")
        if num_inference_steps < 1:
            raise InputError(f"num_inference_steps must be >= 1, got {num_inference_steps}")

        device = self.unet.device
        size = self.unet.config.sample_size
        shape = (labels.numel(), self.unet.config.in_channels, size, size)
        labels = labels.to(device)

        # 1. Start from pure noise (drawn on the generator's device, then moved: reproducible across devices).
        sample = randn_tensor(shape, generator=generator, device=device, dtype=self.unet.dtype)

        # 2. Set the inference timesteps.
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        step_kwargs = {"eta": eta} if isinstance(self.scheduler, DDIMScheduler) else {}

        for t in self.progress_bar(self.scheduler.timesteps):
            # 3. Predict the noise.
            noise_pred = self.unet(sample, t).sample

            # 4. Classifier guidance: shift the noise prediction against grad log p(y | x_t).
            if guidance is not None and guidance_scale > 0:
                noise_pred = self.guide(noise_pred, sample, t, labels, guidance, guidance_scale)

            # 5. One reverse step x_t -> x_{t-1}.
            sample = self.scheduler.step(noise_pred, t, sample, generator=generator, **step_kwargs).prev_sample

        # 6. Back to (N, 1, 28, 28) images in [0, 1], then optional refinement.
        images = to_image_space(sample.float()).cpu()
        if refine is not None:
            images = refine(images, labels.cpu())
        self.maybe_free_model_hooks()
        if not return_dict:
            return (images, labels.cpu())
        return GuidedPipelineOutput(images=images, labels=labels.cpu())
