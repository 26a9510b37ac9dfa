"""Attribution maps through captum: one call, five methods, the input's shape back.

Every method explains one logit per example: the ``target`` class, or the model's predicted class when
``target`` is None. Gradients are signed (captum's ``Saliency(abs=False)``) so that they can be compared
with ``torch.autograd.grad`` and used in the alignment and infidelity metrics; take ``.abs()`` to display
a magnitude map.
"""

from __future__ import annotations

import warnings
from typing import Callable

import torch
from captum.attr import GuidedBackprop, InputXGradient, IntegratedGradients, NoiseTunnel, Saliency
from torch import nn

from optimist.core.attacks import frozen
from optimist.core.checks import check_model_input
from optimist.core.errors import InputError
from optimist.core.runtime import predict

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

#: Defaults per method; any of them can be overridden through ``attribute(..., **options)``.
DEFAULT_OPTIONS: dict[str, dict] = {
    "integrated-gradients": {"n_steps": 32, "baselines": 0.0, "internal_batch_size": 1024},
    "smoothgrad": {"nt_samples": 16, "stdevs": 0.15, "nt_samples_batch_size": 4},
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


def resolve_target(model: nn.Module, x: torch.Tensor, target: torch.Tensor | int | None) -> torch.Tensor:
    """A (N,) long tensor of classes: ``target`` broadcast, or the predicted class when it is None."""
    if target is None:
        return predicted_class(model, x)
    t = torch.as_tensor(target, dtype=torch.long, device=x.device).flatten()
    if t.numel() == 1:
        t = t.expand(len(x))
    if t.numel() != len(x):
        raise InputError(f"target must be one class or one per image ({len(x)}), got {t.numel()} values")
    return t.clone()


def check_relus(model: nn.Module, x: torch.Tensor) -> None:
    """Raise a ValueError unless every ``nn.ReLU`` is non-in-place and runs once per forward pass.

    captum's GuidedBackprop hooks each ReLU module; an in-place ReLU breaks the hook and a module used
    twice (stock torchvision ResNet blocks) gets the wrong gradient. Registry models pass this check.
    """
    relus = {name: m for name, m in model.named_modules() if isinstance(m, nn.ReLU)}
    inplace = [name for name, m in relus.items() if m.inplace]
    calls = dict.fromkeys(relus, 0)
    hooks = [m.register_forward_hook(lambda *_, name=name: calls.__setitem__(name, calls[name] + 1))
             for name, m in relus.items()]
    try:
        with torch.no_grad():
            model(x[:1])
    finally:
        for h in hooks:
            h.remove()
    reused = [name for name, c in calls.items() if c > 1]
    if inplace or reused:
        raise InputError("guided backprop needs one non-in-place nn.ReLU module per use; "
                         f"in-place: {inplace or 'none'}, used more than once: {reused or 'none'}. "
                         "Build the model from optimist.core.models (separate ReLUs) or replace them.")


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
    ``stdevs`` for smoothgrad). Images are processed in chunks of ``batch_size``; the model's parameters
    are frozen meanwhile, so no parameter gradients accumulate.
    """
    check_model_input(model, x)
    return _attribute(model, x, target, method, batch_size, options)


def _attribute(model: nn.Module, x: torch.Tensor, target, method: str, batch_size: int, options: dict) -> torch.Tensor:
    """:func:`attribute` without the [0, 1] check: captum's metrics call it on perturbed images just outside."""
    check_method(method)
    _check_inputs(model, x)
    targets = resolve_target(model, x, target)
    if method == "guided-backprop":
        check_relus(model, x)
    explainer, fixed = _explainer(model, method)
    kwargs = {**DEFAULT_OPTIONS.get(method, {}), **fixed, **options}
    out = []
    with frozen(model), torch.enable_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")  # GuidedBackprop's notice
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].detach().clone().requires_grad_(True)
            a = explainer.attribute(xb, target=targets[i:i + batch_size], **kwargs)
            out.append(a.detach())
    return torch.cat(out)


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
    """
    check_method(method, allow_random=True)

    def explain(inputs: torch.Tensor | tuple[torch.Tensor], target=None, **_):
        if isinstance(inputs, tuple):  # captum's metrics pass a 1-tuple and expect one back
            return (explain(inputs[0], target),)
        if method == RANDOM:
            return torch.randn_like(inputs)
        return _attribute(model, inputs, target, method, options.pop("batch_size", 256), options)

    return explain
