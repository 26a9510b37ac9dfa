"""Curvature in input space: the dominant eigenvalue of the input Hessian, and the local-linearity gap.

CURE (Moosavi-Dezfooli et al. 2019) shows that adversarial training sharply lowers the curvature of the loss in
input space. Here, per example:

* ``input_hessian_eigenvalue``: power iteration on Hessian-vector products of the cross-entropy loss (or the
  logit margin) with respect to the input. Examples do not interact in eval mode, so one HVP of the summed
  loss gives every example's own ``H_i v_i`` at once.
* ``local_linearity_gap``: Qin et al. (2019)'s ``max_{delta in B} |l(x + delta) - l(x) - delta . grad l(x)|``,
  maximised with core's PGD engine and a custom objective.

For a ReLU network the logits are piecewise linear, so the Hessian of the logit margin vanishes almost
everywhere; the loss keeps the curvature of the softmax, ``J^T (diag p - p p^T) J``, which is what CURE measures.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from optimist.core.attacks import Threat, as_threat, frozen, pgd
from optimist.core.checks import check_labels, check_model_input
from optimist.core.errors import InputError

TARGETS = ("loss", "margin")
HVP_METHODS = ("reverse", "forward")


@dataclass
class InputFunction:
    """A per-example scalar function of the input, its classes fixed at the reference images.

    ``of="loss"``: cross-entropy against ``labels``. ``of="margin"``: the logit of ``labels`` minus that of
    ``runner_up`` (the decision function near the reference images). Call it on images of the same batch;
    ``rows`` selects which examples' classes apply when evaluating a subset.
    """

    model: nn.Module
    labels: torch.Tensor
    runner_up: torch.Tensor
    of: str = "loss"

    def __call__(self, x: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        y = self.labels if rows is None else self.labels[rows]
        z = self.model(x)
        if self.of == "loss":
            return F.cross_entropy(z, y, reduction="none")
        k = self.runner_up if rows is None else self.runner_up[rows]
        return z.gather(1, y[:, None]).squeeze(1) - z.gather(1, k[:, None]).squeeze(1)


def scalar_function(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None,
                    of: str = "loss") -> InputFunction:
    """The loss (``of="loss"``) or logit margin (``of="margin"``) around images ``x``; ``y`` defaults to the
    prediction at ``x`` and the margin's other class is the runner-up at ``x``.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> x = torch.rand(4, 1, 28, 28)
    >>> loss = scalar_function(model, x, torch.tensor([0, 1, 2, 3]), of="loss")
    >>> loss(x).shape
    torch.Size([4])
    """
    if of not in TARGETS:
        raise InputError(f"unknown target {of!r}; use one of {', '.join(TARGETS)}")
    with torch.no_grad():
        logits = model(x)
    if y is None:
        y = logits.argmax(1)
    check_labels(y, x.shape[0], logits.shape[1])
    other = logits.clone()
    other.scatter_(1, y[:, None], float("-inf"))
    return InputFunction(model, y, other.argmax(1), of)


def hessian_vector_product(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, v: torch.Tensor,
                           method: str = "reverse") -> torch.Tensor:
    """Per-example ``H_i v_i`` with ``H_i`` the Hessian of ``fn(x)[i]`` w.r.t. ``x[i]`` (examples independent).

    ``method="reverse"``: double backward (fastest here). ``"forward"``: ``torch.func.jvp`` over
    ``torch.func.grad`` (forward-over-reverse). Both are exact; they agree to float precision.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    >>> from optimist.geometry import scalar_function
    >>> loss = scalar_function(model, x, y)
    >>> hessian_vector_product(loss, x, torch.randn_like(x)).shape
    torch.Size([4, 1, 28, 28])
    """
    if method not in HVP_METHODS:
        raise InputError(f"unknown HVP method {method!r}; use one of {', '.join(HVP_METHODS)}")
    if v.shape != x.shape:
        raise InputError(f"v must have the shape of x {tuple(x.shape)}, got {tuple(v.shape)}")
    if method == "forward":
        with warnings.catch_warnings():  # torch.func's decompositions call the deprecated torch.jit.script
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
            _, hv = torch.func.jvp(torch.func.grad(lambda z: fn(z).sum()), (x.detach(),), (v.detach(),))
        return hv.detach()
    xr = x.detach().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(fn(xr).sum(), xr, create_graph=True)
        if not g.requires_grad:  # the gradient does not depend on anything: the Hessian is zero
            return torch.zeros_like(x)
        (hv,) = torch.autograd.grad((g * v).sum(), xr, allow_unused=True)
    return torch.zeros_like(x) if hv is None else hv.detach()  # None: the gradient does not depend on x


@dataclass
class CurvatureResult:
    """Dominant Hessian eigenvalue per example (signed Rayleigh quotient), its eigenvector and iterations run."""

    eigenvalue: torch.Tensor
    eigenvector: torch.Tensor
    iterations: int


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.flatten(1).norm(dim=1).clamp_min(1e-20).view(-1, *([1] * (v.ndim - 1)))


def input_hessian_eigenvalue(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, *, of: str = "loss",
                             iters: int = 20, tol: float = 1e-3, method: str = "reverse", seed: int = 0,
                             batch_size: int = 256, progress: bool = False) -> CurvatureResult:
    """Largest-magnitude eigenvalue of each example's input Hessian by power iteration (``iters`` at most).

    Stops early once every example's eigenvalue changes by less than ``tol`` (relative) between iterations.
    For the cross-entropy of a ReLU network the Hessian is positive semi-definite, so this is ``lambda_max``.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    >>> result = input_hessian_eigenvalue(model, x, y, iters=2)
    >>> result.eigenvalue.shape, result.eigenvector.shape
    (torch.Size([4]), torch.Size([4, 1, 28, 28]))
    """
    check_model_input(model, x)
    if iters < 1:
        raise InputError(f"iters must be >= 1, got {iters}")
    gen = torch.Generator().manual_seed(seed)
    eigs, vecs, ran = [], [], 0
    starts = range(0, len(x), batch_size)
    with frozen(model):
        for i in tqdm(starts, desc="curvature", disable=not progress or len(starts) < 2, leave=False):
            xb = x[i:i + batch_size]
            fn = scalar_function(model, xb, None if y is None else y[i:i + batch_size], of)
            v = _unit(torch.randn(xb.shape, generator=gen).to(xb))
            lam = torch.zeros(len(xb), device=xb.device, dtype=xb.dtype)
            for it in range(iters):
                hv = hessian_vector_product(fn, xb, v, method)
                new = (hv * v).flatten(1).sum(1)
                converged = ((new - lam).abs() <= tol * new.abs().clamp_min(1e-12)).all()
                lam = new
                nonzero = hv.flatten(1).norm(dim=1) > 1e-20
                v = torch.where(nonzero.view(-1, 1, 1, 1), _unit(hv), v)
                if converged and it > 0:
                    break
            ran = max(ran, it + 1)
            eigs.append(lam)
            vecs.append(v)
    return CurvatureResult(torch.cat(eigs), torch.cat(vecs), ran)


def local_linearity_gap(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None,
                        threat: Threat | str = "linf:0.1", *, steps: int = 10, step_size: float | None = None,
                        of: str = "loss", restarts: int = 1) -> torch.Tensor:
    """Per-example ``max_{delta in threat} |f(x + delta) - f(x) - delta . grad f(x)|`` (Qin et al. 2019).

    Zero for a linear ``f``; large where the first-order model of ``f`` breaks down inside the ball. ``f`` is
    the loss or the logit margin (see :func:`scalar_function`); ``x + delta`` stays in [0, 1].

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    >>> gap = local_linearity_gap(model, x, y, "linf:0.1", steps=2)
    >>> gap.shape, bool((gap >= 0).all())
    (torch.Size([4]), True)
    """
    check_model_input(model, x)
    threat = as_threat(threat)
    with frozen(model):
        fn = scalar_function(model, x, y, of)
        x0 = x.detach().requires_grad_(True)
        with torch.enable_grad():
            f0 = fn(x0)
            (g0,) = torch.autograd.grad(f0.sum(), x0)
        f0 = f0.detach()

    def gap(_: nn.Module, xa: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        first_order = ((xa - x[idx]) * g0[idx]).flatten(1).sum(1)
        return (fn(xa, idx) - f0[idx] - first_order).abs()

    idx = torch.arange(len(x), device=x.device)
    _, best = pgd(model, x, idx, threat, steps=steps, step_size=step_size, restarts=restarts, objective=gap,
                  return_loss=True)
    return best.detach()
