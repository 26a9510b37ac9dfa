"""One training step's loss for each method; every attack runs on the core PGD engine."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from optimist.core.attacks import pgd
from optimist.core.errors import InputError
from optimist.core.runtime import evaluating
from optimist.core.train.config import TrainConfig


def _kl_to_clean(model: nn.Module, x: torch.Tensor, clean_log_probs: torch.Tensor) -> torch.Tensor:
    """TRADES inner objective: KL(p(x) || p(x')) per example."""
    log_p_adv = F.log_softmax(model(x), dim=1)
    return F.kl_div(log_p_adv, clean_log_probs, reduction="none", log_target=True).sum(1)


def _attack(raw: nn.Module, x, y, cfg: TrainConfig, **kw) -> torch.Tensor:
    with evaluating(raw):
        return pgd(raw, x, y, cfg.threat_obj, step_size=cfg.step_size(), keep_best=False, **kw)


def method_loss(model: nn.Module, raw: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig):
    """(loss to minimise, clean logits, adversarial logits or None) for one batch.

    ``model`` is what the gradient flows through (possibly DistributedDataParallel); ``raw`` is the bare
    module the attack queries, so attack passes don't trigger gradient synchronisation.
    """
    if cfg.method == "standard":
        logits = model(x)
        return F.cross_entropy(logits, y), logits.detach(), None
    if cfg.method in ("pgd", "fast"):
        steps = cfg.attack_steps if cfg.method == "pgd" else 1
        x_adv = _attack(raw, x, y, cfg, steps=steps, random_start=True)
        logits_adv = model(x_adv)
        with torch.no_grad():
            logits = raw(x)
        return F.cross_entropy(logits_adv, y), logits, logits_adv.detach()
    if cfg.method == "trades":
        with torch.no_grad():
            clean_log_probs = F.log_softmax(raw(x), dim=1)
        x_adv = _attack(raw, x, clean_log_probs, cfg, steps=cfg.attack_steps, random_start=True,
                        objective=_kl_to_clean)
        both = model(torch.cat([x, x_adv]))
        logits, logits_adv = both[: len(x)], both[len(x):]
        robust = F.kl_div(F.log_softmax(logits_adv, 1), F.log_softmax(logits, 1), reduction="batchmean",
                          log_target=True)
        return F.cross_entropy(logits, y) + cfg.trades_beta * robust, logits.detach(), logits_adv.detach()
    raise InputError(f"unknown method {cfg.method!r}")
