"""Robustness to distribution shift, robust vs standard: corruptions (MNIST-C, ImageNet-C) and Fourier heat maps.

``compare(models, data, ...)`` follows the application contract of :mod:`optimist.core.application`;
``APPLICATION`` registers it (``optimist shifts``, ``optimist demo shifts``).
"""

from optimist.core.application import Application
from optimist.shifts.compare import ShiftsSettings, compare
from optimist.shifts.corruptions import REGISTRY, corrupt, corruption_names
from optimist.shifts.data import build_fashion_mnist_c, load_c_folder, load_corrupted
from optimist.shifts.fourier import band_energy, fourier_basis, fourier_heatmap, measure_bands

APPLICATION = Application(
    name="shifts",
    compare=compare,
    settings=ShiftsSettings,
    description="robustness to distribution shift: accuracy under 21 corruptions x 5 severities (MNIST-C, "
                "ImageNet-C families), mCE, per-frequency-band summaries and Fourier heat maps (Yin et al. 2019)",
    demo_models=("fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/linf-0.1"),
    demo_settings={"n": 1000, "heatmap_n": 200, "heatmap_stride": 2},
    quick_settings={"n": 48, "heatmap_n": 16, "heatmap_stride": 7, "bootstrap": 20, "band_images": 48},
    tiny_settings={"n": 8, "corruptions": ["gaussian_noise", "contrast", "fog"], "severities": [1, 5],
                   "heatmap_n": 4, "heatmap_stride": 8, "bootstrap": 10, "band_images": 8, "cache": False},
)

__all__ = [
    "APPLICATION", "REGISTRY", "ShiftsSettings", "band_energy", "build_fashion_mnist_c", "compare", "corrupt",
    "corruption_names", "fourier_basis", "fourier_heatmap", "load_c_folder", "load_corrupted", "measure_bands",
]
