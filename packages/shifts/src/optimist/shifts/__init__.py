"""Robustness to distribution shift, robust vs standard: corruptions (MNIST-C, ImageNet-C) and Fourier heat maps."""

from optimist.shifts.corruptions import REGISTRY, corrupt, corruption_names

__all__ = ["REGISTRY", "corrupt", "corruption_names"]
