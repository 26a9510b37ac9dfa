"""Attribution maps through captum: one call, five methods, the input's shape back.

Every method explains one logit per example: the ``target`` class, or the model's predicted class when
``target`` is None. Gradients are signed (captum's ``Saliency(abs=False)``) so that they can be compared
with ``torch.autograd.grad`` and used in the alignment and infidelity metrics; take ``.abs()`` to display
a magnitude map.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from captum.attr import GuidedBackprop, InputXGradient, IntegratedGradients, NoiseTunnel, Saliency
from torch import nn
from torch.overrides import TorchFunctionMode

from optimist.core.attacks import frozen
from optimist.core.checks import check_model_input
from optimist.core.errors import InputError
from optimist.core.runtime import evaluating, predict

#: Method name -> what it computes (all through captum).
METHODS: dict[str, str] = {
    "gradient": "Saliency: the signed gradient of the target logit with respect to the pixels",
    "input-x-gradient": "InputXGradient: gradient times input",
    "integrated-gradients": "IntegratedGradients from a black image (Sundararajan et al. 2017)",
    "smoothgrad": "NoiseTunnel(Saliency): gradient averaged over Gaussian-noised copies (Smilkov et al. 2017)",
    "guided-backprop": "GuidedBackprop: only positive gradients pass back through each ReLU (Springenberg et al. 2015)",
}
RANDOM = "random"
_RANDOM_SEED_OFFSET = 982_451_653

#: Defaults per method; any of them can be overridden through ``attribute(..., **options)``. captum's own batching
#: of each image's copies (``internal_batch_size``, ``nt_samples_batch_size``) follows ``batch_size`` unless given.
DEFAULT_OPTIONS: dict[str, dict] = {
    "integrated-gradients": {"n_steps": 32, "baselines": 0.0},
    "smoothgrad": {"nt_samples": 16, "stdevs": 0.15},
}


def check_method(method: str, allow_random: bool = False) -> str:
    """``method`` if it is known, else a ValueError listing the valid names."""
    valid = list(METHODS) + ([RANDOM] if allow_random else [])
    if method not in valid:
        raise InputError(f"unknown attribution method {method!r}; choose one of {', '.join(valid)}")
    return method


def _check_inputs(model: nn.Module, x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InputError(f"x must be a batch of images (N, C, H, W), got {shape}")
    if not isinstance(model, nn.Module):
        raise InputError(f"model must be a torch.nn.Module, got {type(model).__name__}")


@torch.no_grad()
def predicted_class(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """The model's argmax class for each image (core's :func:`optimist.core.runtime.predict`, eval mode)."""
    return predict(model, x, batch_size=batch_size)


def resolve_target(model: nn.Module, x: torch.Tensor, target: torch.Tensor | int | None, *,
                   batch_size: int = 512) -> torch.Tensor:
    """A (N,) long tensor of classes: ``target`` broadcast, or the predicted class when it is None (predicted
    ``batch_size`` images at a time)."""
    if target is None:
        return predicted_class(model, x, batch_size)
    t = torch.as_tensor(target, dtype=torch.long, device=x.device).flatten()
    if t.numel() == 1:
        t = t.expand(len(x))
    if t.numel() != len(x):
        raise InputError(f"target must be one class or one per image ({len(x)}), got {t.numel()} values")
    return t.clone()


#: relu as a function: captum's GuidedBackprop never sees these calls (it hooks ``nn.ReLU`` modules only).
_RELU_FUNCTIONS = frozenset({F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_})


class _CountReluCalls(TorchFunctionMode):
    """Counts every relu call in a forward pass, ``nn.ReLU``'s own ``F.relu`` included (nested calls are not seen)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _RELU_FUNCTIONS:
            self.calls += 1
        return func(*args, **(kwargs or {}))


@dataclass(frozen=True)
class ReluUse:
    """How a model's forward pass uses ReLUs, as captum's GuidedBackprop sees them."""

    modules: int                 # nn.ReLU modules, each counted once
    inplace: tuple[str, ...]     # names of the in-place ones
    shared: tuple[str, ...]      # names of those held in more than one place (e.g. twice in one nn.Sequential)
    repeated: tuple[str, ...]    # names of those called more than once per forward pass
    functional: int              # relu calls outside nn.ReLU modules: F.relu, torch.relu, Tensor.relu

    @property
    def needs_copy(self) -> bool:
        """In-place or shared ReLU modules: a copy with new ones fixes both (a repeated call site it cannot split)."""
        return bool(self.inplace or self.shared)


def relu_use(model: nn.Module, x: torch.Tensor) -> ReluUse:
    """One forward pass of the first image (eval mode, no gradients) that finds the ReLUs guided backprop needs.

    ReLU modules are counted by forward hooks, relu calls of any kind by a ``TorchFunctionMode``; the difference
    is the number of functional calls. Writing a ReLU as ``clamp(min=0)`` or ``maximum(x, 0)`` is not detected.
    """
    slots: dict[int, list[str]] = {}
    relus: dict[int, nn.ReLU] = {}
    for name, m in model.named_modules(remove_duplicate=False):
        if isinstance(m, nn.ReLU):
            slots.setdefault(id(m), []).append(name)
            relus[id(m)] = m
    calls = dict.fromkeys(relus, 0)
    hooks = [m.register_forward_hook(lambda *_, key=key: calls.__setitem__(key, calls[key] + 1))
             for key, m in relus.items()]
    counter = _CountReluCalls()
    try:
        with evaluating(model), torch.no_grad(), counter:
            model(x[:1])
    finally:
        for h in hooks:
            h.remove()
    return ReluUse(modules=len(relus),
                   inplace=tuple(slots[k][0] for k, m in relus.items() if m.inplace),
                   shared=tuple(slots[k][0] for k in relus if len(slots[k]) > 1),
                   repeated=tuple(slots[k][0] for k in relus if calls[k] > 1),
                   functional=max(0, counter.calls - sum(calls.values())))


def _separate_relus(model: nn.Module) -> int:
    """Give every place that holds an ``nn.ReLU`` a new, not in-place one of its own; the number replaced."""
    replaced = 0
    for parent in list(model.modules()):
        for key, child in list(parent._modules.items()):
            if isinstance(child, nn.ReLU):
                new = copy.deepcopy(child)
                new.inplace = False
                parent._modules[key] = new
                replaced += 1
    return replaced


def guided_backprop_model(model: nn.Module, x: torch.Tensor) -> tuple[nn.Module, str]:
    """The model captum's GuidedBackprop runs on for images like ``x``, and a note saying which it is.

    One forward pass of one image (:func:`relu_use`) decides, before any attribution. With in-place ReLU modules
    (torchvision's ResNets have one in-place ``self.relu`` per block) or one module held in several places, it is
    a deep copy in which every place holds a new, not in-place ``nn.ReLU``; the caller's model is left as it is
    (same modules, same flags). Otherwise the model itself. A module called more than once in one forward pass
    (torchvision's block ``relu``, twice) stays one module called twice, in the copy too: module replacement cannot
    split a call site, and captum's hooks act on each call's own tensors, so each call is guided on its own.
    Refused at once (:class:`InputError`): relus called as functions (``F.relu``, ``torch.relu``, ``Tensor.relu``),
    which captum's ReLU-module hooks never reach. Not detected: a ReLU written as ``clamp(min=0)``, and a ReLU
    module whose input tensor also feeds another layer (captum's hook on that input then changes the other path's
    gradient too).
    """
    use = relu_use(model, x)
    if use.functional:
        raise InputError(f"guided backprop cannot run on {type(model).__name__}: its forward pass calls relu "
                         f"{use.functional} time(s) as a function (torch.nn.functional.relu, torch.relu or "
                         "Tensor.relu), and captum's GuidedBackprop changes the gradient at nn.ReLU modules only. "
                         "Use nn.ReLU modules in the model's forward, or leave guided-backprop out of the methods")
    repeated = f"; {len(use.repeated)} ReLU modules run more than once per forward pass, each call guided" \
        if use.repeated else ""
    if not use.needs_copy:
        return model, f"ran on the model itself{repeated}"
    try:
        twin = copy.deepcopy(model)
    except Exception as e:  # a module deepcopy cannot handle: say so instead of a traceback from inside copy
        raise InputError(f"guided backprop needs a copy of {type(model).__name__} with separate, not in-place "
                         f"ReLUs (in-place: {list(use.inplace) or 'none'}, shared: {list(use.shared) or 'none'}), "
                         f"and copy.deepcopy failed: {e}. Build the model with one nn.ReLU(inplace=False) per use, "
                         "or leave guided-backprop out of the methods") from e
    replaced = _separate_relus(twin)
    return twin, (f"ran on a copy with {replaced} ReLU modules replaced by new, not in-place ones (the model's: "
                  f"{len(use.inplace)} in place, {len(use.shared)} held in more than one place){repeated}")


def _explainer(model: nn.Module, method: str):
    if method == "gradient":
        return Saliency(model), {"abs": False}
    if method == "input-x-gradient":
        return InputXGradient(model), {}
    if method == "integrated-gradients":
        return IntegratedGradients(model), {}
    if method == "smoothgrad":
        return NoiseTunnel(Saliency(model)), {"nt_type": "smoothgrad", "abs": False}
    if method == "guided-backprop":
        return GuidedBackprop(model), {}
    raise AssertionError(method)


def attribute(model: nn.Module, x: torch.Tensor, target: torch.Tensor | int | None = None,
              *, method: str = "gradient", batch_size: int = 256, **options) -> torch.Tensor:
    """Attribution of the target logit to every pixel, shape ``x.shape``, computed with captum.

    ``target`` is a class per image (or one class for all); None means the model's predicted class.
    ``options`` go to the captum method (e.g. ``n_steps`` for integrated gradients, ``nt_samples`` and
    ``stdevs`` for smoothgrad). No forward/backward pass holds more than ``batch_size`` images: images go in
    chunks of ``batch_size``, and the copies that integrated gradients (interpolation steps) and smoothgrad (noisy
    samples) make of each image are batched by captum so that a chunk's copies stay within ``batch_size`` rows
    too (``internal_batch_size`` and ``nt_samples_batch_size``, unless ``options`` set them). The model's
    parameters are frozen meanwhile, so no parameter gradients accumulate. Guided backprop runs on a copy with new ReLU
    modules when the model's are in place or shared (:func:`guided_backprop_model`, checked before any work).

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> maps = attribute(model, torch.rand(4, 1, 28, 28), method="gradient")
    >>> maps.shape
    torch.Size([4, 1, 28, 28])
    """
    check_model_input(model, x)
    return _attribute(model, x, target, method, batch_size, options)


def _attribute(model: nn.Module, x: torch.Tensor, target, method: str, batch_size: int, options: dict, *,
               guided: bool = True) -> torch.Tensor:
    """:func:`attribute` without the [0, 1] check: captum's metrics call it on perturbed images just outside.
    ``guided=False``: the caller already chose guided backprop's model (:func:`guided_backprop_model`)."""
    check_method(method)
    _check_inputs(model, x)
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    targets = resolve_target(model, x, target, batch_size=batch_size)
    if method == "guided-backprop" and guided:
        model, _ = guided_backprop_model(model, x)  # the model itself, or a copy with separate ReLUs
    explainer, fixed = _explainer(model, method)
    kwargs = {**DEFAULT_OPTIONS.get(method, {}), **fixed, **options}
    out = []
    with frozen(model), torch.enable_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")  # GuidedBackprop's notice
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].detach().clone().requires_grad_(True)
            a = explainer.attribute(xb, target=targets[i:i + batch_size],
                                    **_copies_batched(method, kwargs, len(xb), batch_size))
            out.append(a.detach())
    return torch.cat(out).contiguous()  # a channels-last model gives channels-last gradients; captum's metrics .view()


def _copies_batched(method: str, kwargs: dict, images: int, batch_size: int) -> dict:
    """``kwargs`` with captum's batching of each image's copies set so that one pass of ``images`` images holds at
    most ``batch_size`` rows (an option the caller set wins): integrated gradients runs ``batch_size // images``
    interpolation steps at once, smoothgrad as many noisy samples."""
    per_pass = max(1, batch_size // images)
    if method == "integrated-gradients":
        return {"internal_batch_size": per_pass * images, **kwargs}
    if method == "smoothgrad":
        return {"nt_samples_batch_size": per_pass, **kwargs}
    return kwargs


def random_attribution(x: torch.Tensor, seed: int | None = 0) -> torch.Tensor:
    """The "no signal" baseline: i.i.d. standard normal values with ``x``'s shape (seeded).

    The seed is offset so that the noise is not the same stream as ``torch.rand`` images drawn with
    the same seed (which would correlate the "random" map with the image).
    """
    g = None if seed is None else torch.Generator(device="cpu").manual_seed(_RANDOM_SEED_OFFSET + seed)
    return torch.randn(x.shape, generator=g).to(x.device)


def explanation_function(model: nn.Module, method: str, **options) -> Callable[..., torch.Tensor]:
    """``f(inputs, target=...) -> attributions`` for captum's metrics (e.g. ``sensitivity_max``).

    For ``method="random"`` every call draws fresh noise, which is what a map without signal does.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> explain = explanation_function(model, "gradient")
    >>> explain(torch.rand(4, 1, 28, 28), target=torch.tensor([0, 1, 2, 3])).shape
    torch.Size([4, 1, 28, 28])
    """
    check_method(method, allow_random=True)
    batch_size = options.pop("batch_size", 256)  # once: every call keeps the caller's batch size
    runs_on: list[nn.Module] = []  # guided backprop's model (a copy with separate ReLUs, or ``model``), found once

    def explain(inputs: torch.Tensor | tuple[torch.Tensor], target=None, **_):
        if isinstance(inputs, tuple):  # captum's metrics pass a 1-tuple and expect one back
            return (explain(inputs[0], target),)
        if method == RANDOM:
            return torch.randn_like(inputs)
        if method == "guided-backprop" and not runs_on:
            runs_on.append(guided_backprop_model(model, inputs)[0])
        return _attribute(runs_on[0] if runs_on else model, inputs, target, method, batch_size, options,
                          guided=False)

    return explain
