"""Every error Optimist raises on purpose, in one hierarchy rooted at :class:`OptimistError`.

Each is also a subclass of the built-in error an ``except`` clause would expect (``ValueError`` for bad input,
``FileNotFoundError`` for missing data, ``AssertionError`` for a broken application contract), and its message
names the field, the value and the fix. The CLI prints any of them as one line and exits 2.

>>> from optimist.core.errors import ImageRangeError, InputError, OptimistError
>>> issubclass(ImageRangeError, InputError) and issubclass(ImageRangeError, ValueError)
True
>>> str(InputError("n must be >= 1, got 0", field="n", value=0, fix="pass n=1 or more"))
'n must be >= 1, got 0; pass n=1 or more'
"""

from __future__ import annotations


class OptimistError(Exception):
    """The root: ``except OptimistError`` catches everything Optimist raises on purpose."""


class InputError(OptimistError, ValueError):
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


class DataMismatchError(ModelMismatchError):
    """Data that does not fit a model: channels, image size or labels."""


class CountError(InputError):
    """A count (n, steps, restarts, batch size) below what makes sense."""


class DeviceError(InputError):
    """A device that does not exist or is not available here."""


class SettingsError(InputError):
    """A setting that is unknown, of the wrong type or out of range; the message names it and the fix."""


class ModelSpecError(InputError):
    """A model spec that names no model; the message lists the spec kinds."""


class DataSpecError(InputError):
    """A data spec that names no data, or data that is not images in [0, 1] with integer labels."""


class WrapError(InputError):
    """A module that cannot be wrapped as stated; the message says what was found and how to fix it."""


class CheckpointError(InputError):
    """A checkpoint that is missing, truncated, corrupt, foreign or does not match its architecture."""


class DatasetNotFoundError(OptimistError, FileNotFoundError):
    """A dataset that is not on disk; the message says where Optimist looked and how to get it."""


class ShardError(OptimistError, RuntimeError):
    """Another process of a torchrun job failed, so this one stops too; the message names its rank and error."""


class ContractError(OptimistError, AssertionError):
    """An application that breaks the application contract (see :func:`optimist.core.testing.check_application`);
    ``check`` names the rule that was broken."""

    def __init__(self, message: str, *, check: str):
        super().__init__(f"[{check}] {message}")
        self.check = check


__all__ = ["CheckpointError", "ContractError", "CountError", "DataMismatchError", "DataSpecError",
           "DatasetNotFoundError", "DeviceError", "ImageDTypeError", "ImageRangeError", "ImageShapeError",
           "InputError", "LabelError", "ModelMismatchError", "ModelSpecError", "OptimistError", "SettingsError",
           "ShardError", "WrapError"]
