"""DeepFool: the smallest perturbation (L2 or L-inf) that changes a prediction, by iterated linearisation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from optimist.core.attacks.pgd import frozen
from optimist.core.attacks.threat import Threat, as_threat
from optimist.core.checks import check_images
from optimist.core.errors import InputError


@dataclass
class DeepFoolResult:
    """Adversarial images, the perturbation (overshoot included), its per-example norm and whether it fooled."""

    x_adv: torch.Tensor
    delta: torch.Tensor
    norm: torch.Tensor
    success: torch.Tensor
    iterations: torch.Tensor


def _class_gradients(model, x, classes):
    """Logits at x and the gradient of each candidate logit (N, K, *x.shape[1:])."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        grads = []
        for k in range(classes.shape[1]):
            sel = logits.gather(1, classes[:, k:k + 1]).sum()
            (g,) = torch.autograd.grad(sel, x, retain_graph=k + 1 < classes.shape[1])
            grads.append(g)
    return logits.detach(), torch.stack(grads, 1)


def _norm_of(threat) -> str:
    """The norm of a Threat, its text (``"l2:inf"``) or a bare norm name; DeepFool itself sets the size."""
    if isinstance(threat, str) and ":" not in threat:
        if threat not in ("l2", "linf"):
            raise InputError(f"unknown norm {threat!r}; use 'l2' or 'linf' (or a Threat such as 'l2:inf')")
        return threat
    t = as_threat(threat)
    if not t.unbounded:
        raise InputError(f"DeepFool finds the smallest perturbation, so it takes no budget; got {t}. Pass the norm: "
                         f"'{t.norm}' or Threat('{t.norm}', inf)")
    return t.norm


def deepfool(
    model: nn.Module,
    x: torch.Tensor,
    norm: "str | Threat" = "l2",
    *, overshoot: float = 0.02,
    max_iter: int = 50,
    num_candidates: int = 10,
    basis: torch.Tensor | None = None,
    project: Callable[[torch.Tensor], torch.Tensor] | None = None,
    clamp: bool = True,
) -> DeepFoolResult:
    """Minimal perturbation that changes the model's prediction at ``x`` (Moosavi-Dezfooli et al. 2016).

    Args:
        norm: ``"l2"`` or ``"linf"``, or an unbounded :class:`Threat` (``"l2:inf"``) naming the norm.
        overshoot: the final perturbation is ``(1 + overshoot)`` times the accumulated one.
        num_candidates: classes considered, the top-scoring ones at ``x``.
        basis: optional (K, D) matrix with orthonormal rows; the perturbation is restricted to their span
            (margins along a subspace, L2 only).
        project: the same restriction as a function: the orthogonal projection onto the subspace of flattened
            images ``(..., D) -> (..., D)``; for subspaces with a fast transform, where a dense basis would not
            fit in memory (a DCT block of a 224x224 image). Give ``basis`` or ``project``, not both.
        clamp: keep ``x + delta`` in [0, 1]. Pass False to measure the geometric margin of the function
            itself, as the margin instruments do; then ``x_adv`` may leave the image range.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> result = deepfool(model, torch.rand(4, 1, 28, 28), "l2", max_iter=5)
    >>> result.x_adv.shape, result.success.dtype
    (torch.Size([4, 1, 28, 28]), torch.bool)
    """
    check_images(x)
    norm = _norm_of(norm)
    if basis is not None and project is not None:
        raise InputError("give a subspace as basis= or as project=, not both")
    if (basis is not None or project is not None) and norm != "l2":
        raise InputError("a subspace basis is supported for the L2 DeepFool only")
    x0 = x.detach()
    n = x0.shape[0]
    flat_dim = x0[0].numel()
    if basis is not None and (basis.ndim != 2 or basis.shape[1] != flat_dim):
        raise InputError(f"basis must have shape (K, {flat_dim}), got {tuple(basis.shape)}")
    if basis is not None:
        def project(w: torch.Tensor) -> torch.Tensor:
            return (w @ basis.T) @ basis

    with frozen(model), torch.no_grad():
        logits0 = model(x0)
    label = logits0.argmax(1)
    k = min(num_candidates, logits0.shape[1])
    classes = logits0.topk(k, dim=1).indices  # first column is the predicted label
    r_tot = torch.zeros_like(x0)
    iters = torch.zeros(n, dtype=torch.long)
    active = torch.arange(n, device=x0.device)

    def perturbed(rows):
        xp = x0[rows] + (1 + overshoot) * r_tot[rows]
        return xp.clamp(0, 1) if clamp else xp

    with frozen(model):
        for _ in range(max_iter):
            logits, grads = _class_gradients(model, perturbed(active), classes[active])
            fooled = logits.argmax(1) != label[active]
            keep = ~fooled
            active, logits, grads = active[keep], logits[keep], grads[keep]
            if active.numel() == 0:
                break
            iters[active.cpu()] += 1
            f = logits.gather(1, classes[active]) - logits.gather(1, label[active, None])  # (A, K)
            w = (grads - grads[:, :1]).flatten(2)  # (A, K, D)
            if project is not None:
                w = project(w)
            f, w = f[:, 1:], w[:, 1:]
            if norm == "l2":
                wn = w.norm(dim=2).clamp_min(1e-12)
            else:
                wn = w.abs().sum(dim=2).clamp_min(1e-12)
            dist = f.abs() / wn
            best = dist.argmin(1)
            idx = torch.arange(len(active), device=x0.device)
            wl, fl, nl = w[idx, best], f[idx, best].abs() + 1e-4, wn[idx, best]
            if norm == "l2":
                r = (fl / nl ** 2)[:, None] * wl
            else:
                r = (fl / nl)[:, None] * wl.sign()
            r_tot[active] += r.view_as(x0[active])

    x_adv = perturbed(torch.arange(n, device=x0.device))
    delta = x_adv - x0
    with torch.no_grad():
        success = model(x_adv).argmax(1) != label
    p = 2.0 if norm == "l2" else float("inf")
    return DeepFoolResult(x_adv.detach(), delta.detach(), delta.flatten(1).norm(p=p, dim=1), success, iters)
