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

from optimist.core.attacks.objectives import margin_of_logits
from optimist.core.attacks.pgd import frozen
from optimist.core.attacks.threat import Threat, as_threat
from optimist.core.checks import check_images, check_labels
from optimist.core.errors import InputError
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
    schedule_length: int | None = None,
    halving: bool = False,
    x_init: torch.Tensor | None = None,
) -> torch.Tensor:
    """Gradient-free adversarial images for ``(x, y)`` within ``threat``, using at most ``queries`` proposals.

    Each example costs one forward pass per proposal until it is fooled. The square-size schedule is laid
    out for ``schedule_length`` queries (default: ``queries``); a longer one keeps the squares large for
    longer, which suits a short search. With ``halving`` (successive halving, after the budget allocation
    of Jamieson & Talwalkar), after 1/16, 1/8, 1/4 and 1/2 of the queries only the half of the unbroken
    examples with the lowest margin is searched further: the budget goes to the points that are close to
    breaking, at about a fifth of the cost. Returns images in [0, 1] inside the ball; those that were never
    fooled hold the lowest-margin point found. ``x_init`` (e.g. the best point of a gradient attack) replaces
    the stripes as the starting point, projected onto the ball.
    """
    threat = as_threat(threat)
    check_images(x)
    check_labels(y, x.shape[0], getattr(model, "num_classes", None))
    if threat.unbounded:
        raise InputError("the square attack needs a finite budget; pass e.g. 'linf:0.1' or 'l2:1.5'")
    if queries < 0:
        raise InputError(f"queries must be >= 0, got {queries}")
    if not 0 < p_init <= 1:
        raise InputError(f"p_init is a fraction of the image area in (0, 1], got {p_init}")
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
        if x_init is not None:
            if x_init.shape != x0.shape:
                raise InputError(f"x_init must have the shape of x, {tuple(x0.shape)}; got {tuple(x_init.shape)}")
            x_start = (x0 + threat.project(x_init.detach() - x0)).clamp(0, 1)
            m_start = _margin(model, x_start, y)
            better = m_start < m_best
            x_best[better], m_best[better] = x_start[better], m_start[better]
        delta = x_best - x0
        # the working set, kept compact: gathered again only when examples leave it
        ids = (m_best > 0).nonzero().flatten()
        xa, d, m, ya = x0[ids], delta[ids], m_best[ids], y[ids]

        def drop(keep: torch.Tensor):
            nonlocal ids, xa, d, m, ya
            gone = ~keep
            delta[ids[gone]], m_best[ids[gone]] = d[gone], m[gone]
            ids, xa, d, m, ya = ids[keep], xa[keep], d[keep], m[keep], ya[keep]

        cuts = {queries // 16, queries // 8, queries // 4, queries // 2} - {0} if halving else set()
        for i in range(queries):
            if ids.numel() == 0:
                break
            if i in cuts and ids.numel() > 1:
                keep = torch.zeros(len(ids), dtype=torch.bool, device=dev)
                keep[m.argsort()[: (len(ids) + 1) // 2]] = True
                drop(keep)
            s = max(int(round(math.sqrt(square_fraction(i, schedule_length or queries, p_init) * h * w))), 1)
            s = min(s, h - 1, w - 1) if min(h, w) > 1 else 1
            k = len(ids)
            mask = _window(k, h, w, s, dev)
            if threat.norm == "linf":
                signs = torch.randint(0, 2, (k, ch, 1, 1), device=dev).to(x0.dtype) * 2 - 1
                d_new = torch.where(mask, signs * eps, d)
                # a proposal that changes no pixel wastes a query: flip its signs (the paper resamples)
                same = ((xa + d_new).clamp(0, 1) == (xa + d)).flatten(1).all(1)
                if same.any():
                    signs = torch.where(same.view(-1, 1, 1, 1), -signs, signs)
                    d_new = torch.where(mask, signs * eps, d)
            else:
                bump = torch.randn(k, ch, 1, 1, device=dev, dtype=x0.dtype)
                scale = d.flatten(1).norm(dim=1).clamp_min(eps * 0.5).view(-1, 1, 1, 1) / s
                d_new = _l2_rescale(torch.where(mask, d + bump * scale, d), eps)
            x_new = (xa + d_new).clamp(0, 1)
            m_new = _margin(model, x_new, ya)
            better = m_new < m
            d = torch.where(better.view(-1, 1, 1, 1), x_new - xa, d)
            m = torch.where(better, m_new, m)
            fooled = m <= 0
            if fooled.any():
                drop(~fooled)
        drop(torch.zeros(len(ids), dtype=torch.bool, device=dev))
        x_best = (x0 + delta).clamp(0, 1)
    return x_best.detach()
