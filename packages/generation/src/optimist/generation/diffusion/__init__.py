"""Robust-classifier guidance for diffusion models (diffusers): a small Fashion-MNIST DDPM, a guided pipeline
(guidance through x0_hat with any clean classifier, or by a noise-aware classifier, standard or adversarially
trained), BIGRoC refinement, and the measured comparison of standard versus robust guidance.

References: Dhariwal & Nichol 2021; Kawar, Ganz & Elad 2022 (arXiv 2208.08664); Ganz & Elad, BIGRoC (arXiv
2108.03702); Bansal et al. 2023 (arXiv 2302.07121).
"""

from optimist.generation.diffusion.cache import diffusion_dir, get_ddpm, get_noise_classifier, load_ddpm, save_ddpm
from optimist.generation.diffusion.guidance import CleanGuidance, Guidance, NoiseAwareGuidance
from optimist.generation.diffusion.noise_classifier import (
                                                            NoiseAwareClassifier,
                                                            NoiseClassifierConfig,
                                                            attack_noised,
                                                            noised_accuracy,
                                                            train_noise_classifier,
)
from optimist.generation.diffusion.pipeline import GuidedDiffusionPipeline, GuidedPipelineOutput
from optimist.generation.diffusion.refine import BigrocRefiner, bigroc_refine
from optimist.generation.diffusion.train_ddpm import (
                                                            CPU_TRAINING,
                                                            GPU_TRAINING,
                                                            DDPMTrainConfig,
                                                            ddpm_loss,
                                                            make_scheduler,
                                                            train_ddpm,
                                                            train_step,
)
from optimist.generation.diffusion.unet import PRESETS, UNetConfig, build_unet, to_image_space, to_model_space

__all__ = [
    "CPU_TRAINING", "GPU_TRAINING", "PRESETS", "BigrocRefiner", "CleanGuidance", "DDPMTrainConfig", "Guidance",
    "GuidedDiffusionPipeline", "GuidedPipelineOutput", "NoiseAwareClassifier", "NoiseAwareGuidance",
    "NoiseClassifierConfig", "UNetConfig", "attack_noised", "bigroc_refine", "build_unet", "ddpm_loss",
    "diffusion_dir", "get_ddpm", "get_noise_classifier", "load_ddpm", "make_scheduler", "noised_accuracy",
    "save_ddpm", "to_image_space", "to_model_space", "train_ddpm", "train_noise_classifier", "train_step",
]
