"""Checks the metrics share: attribution maps that match their images."""

from __future__ import annotations

import torch

from optimist.core.errors import ImageShapeError


def check_maps(attributions: torch.Tensor, x: torch.Tensor) -> None:
    """``attributions`` has the images' shape (one map per image, channel and pixel)."""
    if not isinstance(attributions, torch.Tensor) or attributions.shape != x.shape:
        shape = tuple(attributions.shape) if isinstance(attributions, torch.Tensor) else type(attributions).__name__
        raise ImageShapeError(f"attributions of shape {shape} do not match the images' {tuple(x.shape)}",
                              field="attributions", value=shape, fix="pass one map per image, as attribute() returns")
