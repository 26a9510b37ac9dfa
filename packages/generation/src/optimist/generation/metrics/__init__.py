"""Quality measures without Inception weights: Fréchet distance, SSIM/MSE, per-class diversity."""

from optimist.generation.metrics.diversity import class_diversity, pairwise_diversity
from optimist.generation.metrics.frechet import PCAProjection, frechet_distance, frechet_from_stats, gaussian_stats
from optimist.generation.metrics.ssim import gaussian_window, mse, ssim

__all__ = [
    "PCAProjection", "class_diversity", "frechet_distance", "frechet_from_stats", "gaussian_stats",
    "gaussian_window", "mse", "pairwise_diversity", "ssim",
]
