"""Any PyTorch classifier as an Optimist :class:`Classifier`: normalisation inside, ``features(x)`` found by a hook.

``wrap(module, ...)`` keeps the user's module as it is (its own forward runs; nothing is copied). The head is
the last ``nn.Linear`` whose output is the logits, checked on a probe batch, or the module named by
``feature_layer``; ``features(x)`` is that head's input, captured by a forward hook.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from optimist.core.errors import WrapError
from optimist.core.models.base import Classifier, Normalize


class WrappedClassifier(nn.Module):
    """``forward(x) = module(normalize(x))``; ``features(x)`` = the input of ``module``'s head ``head_name``."""

    arch = "wrapped"

    def __init__(self, module: nn.Module, head_name: str, *, num_classes: int, in_channels: int, image_size: int,
                 mean: Sequence[float], std: Sequence[float], source: str | None = None):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.module = module
        self.head_name = head_name
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.image_size = image_size
        self.source = source
        head = module.get_submodule(head_name)
        self.feature_dim = getattr(head, "in_features", None)

    @property
    def head(self) -> nn.Module:
        """The final layer: ``head(features(x)) == forward(x)``."""
        return self.module.get_submodule(self.head_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(self.normalize(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The head's input for images ``x`` in [0, 1], shape (N, feature_dim)."""
        captured: list[torch.Tensor] = []

        def grab(_mod, inputs):
            captured.append(inputs[0])

        handle = self.head.register_forward_pre_hook(grab)
        try:
            self.module(self.normalize(x))
        finally:
            handle.remove()
        if not captured:
            raise WrapError(f"the head {self.head_name!r} was not called in the forward pass")
        return captured[-1]

    def config(self) -> dict:
        """What :func:`optimist.core.checkpoints.load_model` needs to rebuild this model (with its source)."""
        return {"arch": self.arch, "num_classes": self.num_classes, "in_channels": self.in_channels,
                "image_size": self.image_size, "mean": self.normalize.mean.flatten().tolist(),
                "std": self.normalize.std.flatten().tolist(), "head": self.head_name, "source": self.source}


def _linear_layers(module: nn.Module) -> list[tuple[str, nn.Linear]]:
    return [(n, m) for n, m in module.named_modules() if isinstance(m, nn.Linear)]


def _probe(module: nn.Module, x: torch.Tensor, names: list[str]) -> tuple[torch.Tensor, dict[str, tuple]]:
    """Logits and (input, output) of each named module on a probe batch."""
    seen: dict[str, tuple] = {}
    handles = []
    for name in names:
        def hook(_m, inp, out, name=name):
            seen[name] = (inp[0] if inp else None, out)
        handles.append(module.get_submodule(name).register_forward_hook(hook))
    try:
        with torch.no_grad():
            logits = module(x)
    finally:
        for h in handles:
            h.remove()
    return logits, seen


def wrap(module: nn.Module, *, num_classes: int, in_channels: int, image_size: int,
         mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
         feature_layer: str | None = None, source: str | None = None) -> WrappedClassifier:
    """``module`` (taking normalised images, returning logits) as a classifier on images in [0, 1].

    ``mean``/``std`` are the normalisation the module expects (default: none, i.e. 0 and 1). The head is found
    automatically or named by ``feature_layer`` (a module name from ``module.named_modules()``). ``source``
    records how to rebuild the module (``torchvision:NAME`` or ``python:package.module:factory``) so that a
    saved checkpoint loads without the caller's code; without it, :func:`load_model` needs ``module=``.
    Raises :class:`WrapError` when the head does not reproduce the logits or the features are not vectors.
    """
    if not isinstance(module, nn.Module):
        raise WrapError(f"wrap needs an nn.Module, got {type(module).__name__}")
    if isinstance(module, WrappedClassifier) or hasattr(module, "head") and hasattr(module, "features") \
            and hasattr(module, "normalize"):
        raise WrapError("this model is already an Optimist classifier; use it as it is")
    for name, value in (("num_classes", num_classes), ("in_channels", in_channels), ("image_size", image_size)):
        if not isinstance(value, int) or value < 1:
            raise WrapError(f"{name} must be a positive integer, got {value!r}")
    mean = list(mean) if mean is not None else [0.0] * in_channels
    std = list(std) if std is not None else [1.0] * in_channels
    if len(mean) != in_channels or len(std) != in_channels:
        raise WrapError(f"mean/std need {in_channels} values (one per channel), got {mean} / {std}")
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, in_channels, image_size, image_size, generator=gen).to(device)
    norm = Normalize(mean, std).to(device)
    linears = [n for n, _ in _linear_layers(module)]
    if feature_layer is not None:
        try:
            module.get_submodule(feature_layer)
        except AttributeError as e:
            raise WrapError(f"feature_layer {feature_layer!r} is not a module of {type(module).__name__}; "
                            f"its linear layers are {linears or 'none'}") from e
        candidates = [feature_layer]
    else:
        candidates = list(reversed(linears))
        if not candidates:
            raise WrapError(f"{type(module).__name__} has no nn.Linear layer to serve as the head; name the final "
                            "layer with feature_layer='...' (a module whose input is the feature vector)")
    was = module.training
    module.eval()
    try:
        try:
            logits, seen = _probe(module, norm(x), candidates)
        except RuntimeError as e:
            raise WrapError(f"{type(module).__name__} cannot take {in_channels}x{image_size}x{image_size} images: "
                            f"{str(e).splitlines()[0]}; check in_channels and image_size") from e
    finally:
        module.train(was)
    if logits.ndim != 2 or logits.shape[1] != num_classes:
        raise WrapError(f"{type(module).__name__} returns logits of shape {tuple(logits.shape)}, expected "
                        f"(N, {num_classes}); check num_classes")
    found = []
    for name in candidates:
        if name not in seen:
            found.append(f"{name}: not called")
            continue
        inp, out = seen[name]
        if not isinstance(out, torch.Tensor) or out.shape != logits.shape or not torch.allclose(out, logits,
                                                                                                atol=1e-5):
            found.append(f"{name}: output {tuple(getattr(out, 'shape', ()))} is not the logits")
            continue
        if inp is None or inp.ndim != 2:
            found.append(f"{name}: input of shape {tuple(getattr(inp, 'shape', ()))} is not a feature vector")
            continue
        return WrappedClassifier(module, name, num_classes=num_classes, in_channels=in_channels,
                                 image_size=image_size, mean=mean, std=std, source=source)
    raise WrapError(f"no head of {type(module).__name__} reproduces its logits from a 2-D feature vector "
                    f"({'; '.join(found)}). Name the final layer with feature_layer='...'.")


def is_classifier(model: nn.Module) -> bool:
    """True for models with Optimist's contract: ``features(x)`` and a ``head`` that maps features to logits."""
    return isinstance(model, (Classifier, WrappedClassifier))


def require_classifier(model: nn.Module, what: str = "this function") -> nn.Module:
    """``model`` if it has ``features(x)`` and ``head``; otherwise an error that says how to get one."""
    if is_classifier(model):
        return model
    raise WrapError(
        f"{what} needs penultimate features, and {type(model).__name__} is not an Optimist classifier. Wrap it: "
        "optimist.core.models.wrap(model, num_classes=..., in_channels=..., image_size=..., mean=..., std=...) "
        "(the head is found automatically, or name it with feature_layer='fc'), or load it with "
        "optimist.core.specs.resolve_model('torchvision:NAME' / 'robustbench:FILE:ARCH' / ...).")
