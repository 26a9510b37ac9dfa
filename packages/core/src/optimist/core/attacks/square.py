"""A gradient-free random search in the style of the Square attack (Andriushchenko et al., ECCV 2020).

It needs only the model's logits, so masked or obfuscated gradients do not stop it. Starting from vertical
stripes at the corners of the ball, each query redraws the perturbation inside one random square window and
keeps the change when it lowers the margin (label logit minus the best other one); an example stops as soon
as it is misclassified. Squares start large (``p_init`` of the image area) and shrink on a fixed schedule.

L-inf: every pixel of the window takes ``+eps`` or ``-eps`` (one sign per channel), as in the paper. L2: the
window gets a random signed bump and the whole perturbation is rescaled onto the sphere of radius ``eps``
(a simplification of the paper's mass-moving proposal). This is Optimist's own implementation.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from optimist.core.attacks.checks import check_images, check_labels
from optimist.core.attacks.objectives import margin_of_logits
from optimist.core.attacks.pgd import frozen
from optimist.core.attacks.threat import Threat, as_threat
from optimist.core.models.layout import channels_last

# fraction of a 10,000-query run at which the square's area halves (the paper's schedule)
_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def square_fraction(i: int, queries: int, p_init: float = 0.8) -> float:
    """Fraction of the image area the ``i``-th of ``queries`` proposals redraws (the schedule rescaled)."""
    t = i * 10000 / max(queries, 1)
    return p_init / 2 ** sum(t > h for h in _HALVINGS)


def _margin(model, x, y):
    """Label logit minus the best other one: negative once the example is misclassified."""
    with torch.no_grad():
        return -margin_of_logits(model(x), y)


def _window(n, h, w, s, device):
    """A random s-by-s window per example, as a (n, 1, h, w) boolean mask."""
    r = torch.randint(0, h - s + 1, (n, 1, 1), device=device)
    c = torch.randint(0, w - s + 1, (n, 1, 1), device=device)
    rows = torch.arange(h, device=device).view(1, h, 1)
    cols = torch.arange(w, device=device).view(1, 1, w)
    return ((rows >= r) & (rows < r + s) & (cols >= c) & (cols < c + s)).unsqueeze(1)


def _l2_rescale(delta, eps):
    norm = delta.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return delta * (eps / norm)


def square(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    threat: Threat | str,
    *,
    queries: int = 1000,
    p_init: float = 0.8,
) -> torch.Tensor:
    """Gradient-free adversarial images for ``(x, y)`` within ``threat``, using at most ``queries`` proposals.

    Each example costs one forward pass per proposal until it is fooled. Returns images in [0, 1] inside the
    ball; those that were never fooled hold the lowest-margin point found.
    """
    threat = as_threat(threat)
    check_images(x)
    check_labels(y, x.shape[0], getattr(model, "num_classes", None))
    if threat.unbounded:
        raise ValueError("the square attack needs a finite budget; pass e.g. 'linf:0.1' or 'l2:1.5'")
    if queries < 0:
        raise ValueError(f"queries must be >= 0, got {queries}")
    if not 0 < p_init <= 1:
        raise ValueError(f"p_init is a fraction of the image area in (0, 1], got {p_init}")
    x0 = x.detach()
    n, ch, h, w = x0.shape
    eps = threat.eps
    dev = x0.device
    with frozen(model), channels_last(model):
        # start: vertical stripes of +-eps (L-inf) or a random stripe pattern on the sphere (L2)
        stripes = torch.randint(0, 2, (n, ch, 1, w), device=dev).to(x0.dtype) * 2 - 1
        delta = stripes.expand(n, ch, h, w).clone()
        delta = delta * eps if threat.norm == "linf" else _l2_rescale(delta, eps)
        x_best = (x0 + delta).clamp(0, 1)
        m_best = _margin(model, x_best, y)
        delta = x_best - x0
        active = (m_best > 0).nonzero().flatten()
        for i in range(queries):
            if active.numel() == 0:
                break
            s = max(int(round(math.sqrt(square_fraction(i, queries, p_init) * h * w))), 1)
            s = min(s, h - 1, w - 1) if min(h, w) > 1 else 1
            xa, d = x0[active], delta[active]
            mask = _window(len(active), h, w, s, dev)
            if threat.norm == "linf":
                signs = torch.randint(0, 2, (len(active), ch, 1, 1), device=dev).to(x0.dtype) * 2 - 1
                d_new = torch.where(mask, signs * eps, d)
            else:
                bump = torch.randn(len(active), ch, 1, 1, device=dev, dtype=x0.dtype)
                scale = d.flatten(1).norm(dim=1).clamp_min(eps * 0.5).view(-1, 1, 1, 1) / s
                d_new = _l2_rescale(torch.where(mask, d + bump * scale, d), eps)
            x_new = (xa + d_new).clamp(0, 1)
            m_new = _margin(model, x_new, y[active])
            better = m_new < m_best[active]
            if better.any():
                idx = active[better]
                x_best[idx] = x_new[better]
                delta[idx] = x_new[better] - x0[idx]
                m_best[idx] = m_new[better]
            active = active[m_best[active] > 0]
    return x_best.detach()
