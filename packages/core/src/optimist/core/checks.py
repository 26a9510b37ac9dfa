"""Input validation shared by all attacks: clear errors for bad shapes, ranges and labels."""

from __future__ import annotations

import torch

from optimist.core.errors import ImageDTypeError, ImageRangeError, ImageShapeError, LabelError, ModelMismatchError

RANGE_TOL = 1e-6


def check_images(x: torch.Tensor, name: str = "x") -> None:
    """Images as every attack and application takes them: a float (N, C, H, W) tensor in [0, 1]."""
    if not isinstance(x, torch.Tensor):
        raise ImageShapeError(f"{name} must be a torch.Tensor of images, got {type(x).__name__}", field=name,
                              value=type(x).__name__, fix="convert with torch.as_tensor(...)")
    if x.ndim != 4:
        if x.ndim == 3:
            fix = "add the batch axis: x.unsqueeze(0) for one image, or x[:, None] for a batch of grey images"
        elif x.ndim == 2:
            fix = "reshape flattened images to (N, C, H, W), e.g. x.view(-1, 1, 28, 28)"
        else:
            fix = "pass a batch of shape (N, C, H, W)"
        raise ImageShapeError(f"{name} must have shape (N, C, H, W); got {x.ndim} dims {tuple(x.shape)}", field=name,
                              value=tuple(x.shape), fix=fix)
    if not x.is_floating_point():
        raise ImageDTypeError(f"{name} must be a float tensor in [0, 1], got dtype {x.dtype}", field=name,
                              value=str(x.dtype), fix="divide 8-bit images by 255: x.float() / 255")
    if x.numel() and (torch.isnan(x).any() or x.min() < -RANGE_TOL or x.max() > 1 + RANGE_TOL):
        raise ImageRangeError(
            f"{name} must hold pixel values in [0, 1], got range [{x.min().item():.3g}, {x.max().item():.3g}]",
            field=name, value=(x.min().item(), x.max().item()),
            fix="Optimist models normalise internally: pass un-normalised images (x / 255 for 8-bit)")


def check_model_input(model, x: torch.Tensor, name: str = "x") -> None:
    """``x`` fits ``model``: its dtype, and channels and size where the model states them."""
    check_images(x, name)
    dtype = next((p.dtype for p in model.parameters()), None) if hasattr(model, "parameters") else None
    if dtype is not None and dtype.is_floating_point and x.dtype != dtype:
        raise ImageDTypeError(f"{name} has dtype {x.dtype} but the model's weights are {dtype}", field=name,
                              value=str(x.dtype), fix=f"convert the images: x.to({dtype})")
    c, s = getattr(model, "in_channels", None), getattr(model, "image_size", None)
    if isinstance(c, int) and x.shape[1] != c:
        raise ModelMismatchError(f"the model takes {c}-channel images but {name} has {x.shape[1]} channels",
                                 field=name, value=x.shape[1],
                                 fix="convert to grey (x.mean(1, keepdim=True))" if c == 1 else
                                 "repeat the channel (x.repeat(1, 3, 1, 1))")
    if isinstance(s, int) and tuple(x.shape[-2:]) != (s, s):
        raise ModelMismatchError(f"the model takes {s}x{s} images but {name} is {x.shape[-2]}x{x.shape[-1]}",
                                 field=name, value=tuple(x.shape[-2:]),
                                 fix=f"resize: torch.nn.functional.interpolate(x, size={s}, mode='bilinear'), "
                                     f"or the data spec option ?size={s}")


def check_labels(y, n: int, num_classes: int | None = None, name: str = "y") -> torch.Tensor:
    """``y`` as a 1-D long tensor of ``n`` class labels in [0, num_classes); a clear error otherwise."""
    if not isinstance(y, torch.Tensor):
        try:
            y = torch.as_tensor(y)
        except (TypeError, ValueError, RuntimeError) as e:
            raise LabelError(f"{name} must be a 1-D integer tensor of class labels, got {type(y).__name__}",
                             field=name, value=type(y).__name__) from e
    if y.ndim != 1 or y.is_floating_point() or y.dtype == torch.bool:
        raise LabelError(f"{name} must be a 1-D integer tensor of class labels, got "
                         f"{getattr(y, 'dtype', type(y).__name__)} with shape {tuple(getattr(y, 'shape', ()))}",
                         field=name, value=str(y.dtype), fix="pass class indices, e.g. y.long()")
    if len(y) != n:
        raise LabelError(f"{name} has {len(y)} labels for {n} images", field=name, value=len(y))
    if len(y) and (y.min() < 0 or (num_classes is not None and y.max() >= num_classes)):
        raise LabelError(f"{name} holds labels in [{y.min().item()}, {y.max().item()}], outside the model's "
                         f"{num_classes} classes", field=name, value=(y.min().item(), y.max().item()),
                         fix="check that the data's classes are the model's")
    return y.long()
