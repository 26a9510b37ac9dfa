"""One error type per kind of bad input. Each is a ``ValueError`` whose message names the field, the value and the fix.

The CLI prints any of them as one line and exits 2; the library raises them from every entry point.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: ``field`` is what was wrong, ``value`` what was given, ``fix`` how to put it right."""

    def __init__(self, message: str, *, field: str | None = None, value=None, fix: str | None = None):
        super().__init__(message if fix is None or fix in message else f"{message}; {fix}")
        self.field, self.value, self.fix = field, value, fix


class ImageShapeError(InputError):
    """Images that are not a (N, C, H, W) batch."""


class ImageDTypeError(InputError):
    """Images of the wrong dtype (integers, float64 for a float32 model, ...)."""


class ImageRangeError(InputError):
    """Pixel values outside [0, 1] (normalised or 8-bit images)."""


class LabelError(InputError):
    """Labels of the wrong shape, type, count or range."""


class ModelMismatchError(InputError):
    """Data that does not fit the model: channels or image size."""


class CountError(InputError):
    """A count (n, steps, restarts, batch size) below what makes sense."""


class DeviceError(InputError):
    """A device that does not exist or is not available here."""


__all__ = ["CountError", "DeviceError", "ImageDTypeError", "ImageRangeError", "ImageShapeError", "InputError",
           "LabelError", "ModelMismatchError"]
