"""The training loop: any method, checkpoint every epoch, exact resume, and torchrun/DDP when launched so.

Each epoch reseeds from ``(seed, epoch)``, so an epoch's shuffling and random starts depend only on the
seed and the weights it starts from; resuming from an epoch checkpoint therefore reproduces an
uninterrupted run.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from optimist.core.attacks import pgd
from optimist.core.checkpoints import (
    CheckpointError,
    load_into,
    load_state,
    load_weights,
    resolve,
    save_checkpoint,
    write_latest,
)
from optimist.core.data import ImageTensorDataset, make_loader
from optimist.core.errors import InputError
from optimist.core.models.layout import channels_last
from optimist.core.runtime import evaluating, library_versions
from optimist.core.train import distributed as dist_utils
from optimist.core.train.config import TrainConfig
from optimist.core.train.methods import method_loss

KEEP_CHECKPOINTS = 2


@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict] = field(default_factory=list)
    run_dir: Path | None = None
    stopped_early: bool = False


def _epoch_seed(seed: int, epoch: int) -> int:
    return seed * 10_007 + epoch


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay,
                               nesterov=True)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def _scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int):
    total = cfg.epochs * steps_per_epoch
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if cfg.schedule == "cyclic":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total, pct_start=0.4,
                                                   anneal_strategy="linear")
    return torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)


def _hold_out(dataset: ImageTensorDataset, n: int, seed: int) -> tuple[ImageTensorDataset, torch.Tensor]:
    """(the dataset without ``n`` images drawn by a permutation seeded with ``seed``, their indices in drawn order)."""
    perm = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    kept = perm[n:].sort().values
    return ImageTensorDataset(dataset.images[kept], dataset.targets[kept], dataset.info), perm[:n]


def _split_holdout(dataset: Dataset, cfg: TrainConfig):
    """The learning curve's held-out slice: ``cfg.holdout`` training images (seeded), never trained on."""
    if cfg.holdout == 0:
        return dataset, None
    if not isinstance(dataset, ImageTensorDataset) or len(dataset) <= 2 * cfg.holdout:
        raise InputError(f"holdout={cfg.holdout} needs an in-memory dataset of more than {2 * cfg.holdout} "
                         f"images; got {len(dataset)}. Lower holdout or pass holdout=0.")
    train, held = _hold_out(dataset, cfg.holdout, cfg.seed + 1)
    held = held.sort().values
    return train, (dataset.images[held], dataset.targets[held])


def _holdout_record(raw: nn.Module, held, cfg: TrainConfig, device) -> dict:
    """Clean and (robust methods) PGD-10 accuracy on the held-out slice, in batches of 500."""
    clean = robust = 0
    with evaluating(raw):
        for i in range(0, len(held[1]), 500):
            x, y = held[0][i:i + 500].to(device), held[1][i:i + 500].to(device)
            with torch.no_grad():
                clean += (raw(x).argmax(1) == y).sum().item()
            if cfg.threat_obj is not None:
                xa = pgd(raw, x, y, cfg.threat_obj, steps=10)
                with torch.no_grad():
                    robust += (raw(xa).argmax(1) == y).sum().item()
    n = len(held[1])
    record = {"holdout_clean_acc": clean / n}
    if cfg.threat_obj is not None:
        record["holdout_pgd10_acc"] = robust / n
    return record


SHIFT = 2


def augment_batch(x: torch.Tensor) -> torch.Tensor:
    """Flip each image left-right with probability 1/2 and shift it by up to 2 pixels each way (zero fill); draws
    from the global generator, which the loop seeds per epoch.

    >>> augment_batch(torch.ones(4, 1, 8, 8)).shape
    torch.Size([4, 1, 8, 8])
    """
    flip = torch.rand(len(x), device=x.device) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    h, w = x.shape[-2:]
    padded = torch.nn.functional.pad(x, (SHIFT, SHIFT, SHIFT, SHIFT))
    dy, dx = torch.randint(0, 2 * SHIFT + 1, (2, len(x))).tolist()
    return torch.stack([padded[i, :, a:a + h, b:b + w] for i, (a, b) in enumerate(zip(dy, dx))])


def _split_guard(dataset: Dataset, cfg: TrainConfig):
    """Fast AT watches PGD accuracy on a held-out batch of the training set, not trained on."""
    if cfg.method != "fast" or not isinstance(dataset, ImageTensorDataset) or len(dataset) <= 2 * cfg.guard_size:
        return dataset, None
    train, guard_idx = _hold_out(dataset, cfg.guard_size, cfg.seed)
    return train, (dataset.images[guard_idx], dataset.targets[guard_idx])


def _guard_accuracy(raw: nn.Module, guard, cfg: TrainConfig) -> float:
    x, y = guard
    with evaluating(raw):
        xa = pgd(raw, x, y, cfg.threat_obj, steps=10)
        with torch.no_grad():
            return (raw(xa).argmax(1) == y).float().mean().item()


def _batches(dataset: Dataset, cfg: TrainConfig, epoch: int, ctx: dist_utils.Context):
    if ctx.world_size > 1:
        sampler = torch.utils.data.distributed.DistributedSampler(
            dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=cfg.seed)
        sampler.set_epoch(epoch)
        return DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler)
    g = torch.Generator().manual_seed(_epoch_seed(cfg.seed, epoch))
    return make_loader(dataset, cfg.batch_size, shuffle=True, generator=g)


def _resume_point(run_dir: Path, model: nn.Module, cfg: TrainConfig, opt, sched):
    """Load the latest checkpoint of ``run_dir``; returns (next epoch, history) or (0, [])."""
    try:
        ckpt = resolve(run_dir)
    except CheckpointError:
        return 0, []
    if not (ckpt / "state.pt").is_file():
        return 0, []
    state = load_state(ckpt)
    saved = TrainConfig.from_dict(state["config"])
    if saved != cfg:
        raise InputError(f"cannot resume {run_dir}: it was trained with {saved}, not {cfg}. "
                         "Use a new --out folder or the same settings.")
    load_into(model, load_weights(ckpt), source=str(ckpt))
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    return int(state["epoch"]) + 1, list(json.loads(state["history"]))


def _checkpoint(run_dir: Path, raw: nn.Module, cfg: TrainConfig, card: dict, opt, sched, epoch: int,
                history: list[dict]) -> None:
    name = f"epoch-{epoch + 1:04d}"
    state = {
        "config": cfg.to_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "epoch": epoch,
        "rng": torch.get_rng_state(),
        "history": json.dumps(history),
    }
    full_card = {**card, "training": {**card.get("training", {}), **cfg.to_dict(), "epochs_done": epoch + 1,
                                      "history": history}}
    path = save_checkpoint(run_dir / "checkpoints" / name, raw, full_card, state)
    write_latest(run_dir, path)
    olds = sorted((run_dir / "checkpoints").glob("epoch-*"))[:-KEEP_CHECKPOINTS]
    for old in olds:
        shutil.rmtree(old, ignore_errors=True)


def train(
    model: nn.Module,
    dataset: Dataset,
    config: TrainConfig,
    run_dir: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
    card: dict | None = None,
    device: str | torch.device | None = None,
) -> TrainResult:
    """Train ``model`` on ``dataset`` with ``config.method``; checkpoint each epoch into ``run_dir``.

    With ``resume`` (default) an existing run in ``run_dir`` continues from its last epoch; its settings
    must match. Under ``torchrun`` the model is wrapped in DistributedDataParallel, each process sees its
    shard of every epoch, and only rank 0 writes. Returns the trained bare model and the per-epoch history.
    """
    ctx = dist_utils.setup()
    device = torch.device(device) if device else ctx.device
    run_dir = Path(run_dir) if run_dir else None
    model.to(device)
    train_set, held = _split_holdout(dataset, config)
    train_set, guard = _split_guard(train_set, config)
    steps_per_epoch = math.ceil(len(train_set) / (config.batch_size * ctx.world_size))
    opt = _optimizer(model, config)
    sched = _scheduler(opt, config, steps_per_epoch)
    start_epoch, history = (0, [])
    if run_dir is not None and resume:
        start_epoch, history = _resume_point(run_dir, model, config, opt, sched)
    elif run_dir is not None and (run_dir / "latest.json").exists():
        raise InputError(f"{run_dir} already holds a run; pass resume=True (--resume) or choose another folder")
    with channels_last(model):  # faster on CPU; restored to the caller's layout afterwards
        wrapped = dist_utils.wrap(model, ctx)
        card = {"model": getattr(model, "config", lambda: {})(), "versions": library_versions(), **(card or {})}
        if guard is not None:
            guard = (guard[0].to(device), guard[1].to(device))

        best_guard, best_state, stopped = -1.0, None, False
        for epoch in range(start_epoch, config.epochs):
            torch.manual_seed(_epoch_seed(config.seed, epoch))
            model.train()
            totals = {"loss": 0.0, "clean": 0, "adv": 0, "n": 0}
            desc = f"{config.method} epoch {epoch + 1}/{config.epochs}"
            bar = tqdm(_batches(train_set, config, epoch, ctx), desc=desc, disable=not progress or not ctx.is_main,
                       leave=False)
            for step, (x, y) in enumerate(bar):
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                if config.augment:
                    x = augment_batch(x)
                loss, logits, logits_adv = method_loss(wrapped, model, x, y, config)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                totals["loss"] += loss.item() * len(y)
                totals["clean"] += (logits.argmax(1) == y).sum().item()
                if logits_adv is not None:
                    totals["adv"] += (logits_adv.argmax(1) == y).sum().item()
                totals["n"] += len(y)
                n = totals["n"]
                post = {"loss": f"{totals['loss'] / n:.3f}", "acc": f"{totals['clean'] / n:.3f}"}
                if logits_adv is not None:
                    post["adv"] = f"{totals['adv'] / n:.3f}"
                bar.set_postfix(post)
                if guard is not None and (step + 1) % config.guard_every == 0:
                    acc = _guard_accuracy(model, guard, config)
                    if acc > best_guard:
                        best_guard, best_state = acc, copy.deepcopy(model.state_dict())
                    elif acc < best_guard - config.guard_drop:
                        stopped = True
                        break
            record = {"epoch": epoch + 1, "loss": totals["loss"] / max(totals["n"], 1),
                      "train_clean_acc": totals["clean"] / max(totals["n"], 1), "lr": sched.get_last_lr()[0]}
            if config.method != "standard":
                record["train_adv_acc"] = totals["adv"] / max(totals["n"], 1)
            if guard is not None:
                record["guard_pgd_acc"] = _guard_accuracy(model, guard, config)
                if record["guard_pgd_acc"] >= best_guard:
                    best_guard, best_state = record["guard_pgd_acc"], copy.deepcopy(model.state_dict())
                elif stopped or record["guard_pgd_acc"] < best_guard - config.guard_drop:
                    stopped = True
            if stopped and best_state is not None:
                model.load_state_dict(best_state)
                record["early_stop"] = (f"PGD accuracy on the guard batch collapsed; restored weights at "
                                        f"{best_guard:.3f}")
            if held is not None:  # every rank measures the same slice, so the average is that value
                record.update(_holdout_record(model, held, config, device))
            record = dist_utils.average_record(record, ctx)
            history.append(record)
            if progress and ctx.is_main:
                tqdm.write("  " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                            for k, v in record.items()))
            if run_dir is not None and ctx.is_main:
                _checkpoint(run_dir, model, config, card, opt, sched, epoch, history)
            dist_utils.barrier(ctx)
            if stopped:
                break
    dist_utils.teardown(ctx)
    return TrainResult(model=model, history=history, run_dir=run_dir, stopped_early=stopped)

