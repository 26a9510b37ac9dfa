"""Input validation shared by all attacks: clear errors for bad shapes, ranges and labels."""

from __future__ import annotations

import torch

RANGE_TOL = 1e-6


def check_images(x: torch.Tensor, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of images, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W); got {x.ndim} dims {tuple(x.shape)}. "
                         "Add a batch dimension with x.unsqueeze(0) for a single image.")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor in [0, 1], got dtype {x.dtype}; divide uint8 images by 255")
    if x.numel() and (torch.isnan(x).any() or x.min() < -RANGE_TOL or x.max() > 1 + RANGE_TOL):
        raise ValueError(
            f"{name} must hold pixel values in [0, 1], got range [{x.min().item():.3g}, {x.max().item():.3g}]. "
            "Optimist models normalise internally: pass un-normalised images."
        )


def check_labels(y, n: int, num_classes: int | None = None, name: str = "y") -> torch.Tensor:
    """``y`` as a 1-D long tensor of ``n`` class labels in [0, num_classes); a clear error otherwise."""
    if not isinstance(y, torch.Tensor):
        try:
            y = torch.as_tensor(y)
        except (TypeError, ValueError, RuntimeError) as e:
            raise ValueError(f"{name} must be a 1-D integer tensor of class labels, got {type(y).__name__}") from e
    if y.ndim != 1 or y.is_floating_point() or y.dtype == torch.bool:
        raise ValueError(f"{name} must be a 1-D integer tensor of class labels, got "
                         f"{getattr(y, 'dtype', type(y).__name__)} with shape {tuple(getattr(y, 'shape', ()))}")
    if len(y) != n:
        raise ValueError(f"{name} has {len(y)} labels for {n} images")
    if len(y) and (y.min() < 0 or (num_classes is not None and y.max() >= num_classes)):
        raise ValueError(f"{name} holds labels in [{y.min().item()}, {y.max().item()}], outside the model's "
                         f"{num_classes} classes")
    return y.long()
