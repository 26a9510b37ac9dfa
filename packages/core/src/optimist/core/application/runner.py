"""The one step every application's ``compare`` opens with: :func:`prepare`.

``with prepare("geometry", models, data, settings=s, device=device, seed=seed, progress=progress) as run:``
resolves the device, the models (training a zoo model that is not cached yet, inside a seeded scope of its own
so that the caller's global RNGs never move) and the data, checks the data against every model, puts the models
on the device in eval mode, seeds the global RNGs for the science inside, and on the way out gives the caller's
models back as they came (mode, device, dtype, ``requires_grad``) and the global RNGs as they were. What the
application needs comes back as one :class:`Run`: models, data, settings, device, seeded generators and the
settings record of the result.

Two capabilities every application needs are written here once. **Bounded memory**: ``run.batch_size`` is the
application's ``batch_size`` setting when the user set one, else chosen from the models and the image size
(:func:`~optimist.core.application.batching.auto_batch_size`). **Processes**: under torchrun,
``run.map(fn, x, ...)`` shares the per-image work out in fixed chunks of ``run.batch_size`` images, one seeded
generator per chunk, and gathers it in order on every rank, so that every rank then computes the same table as
one process would (:mod:`optimist.core.application.shards`); the record says ``world_size`` and ``backend``.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from optimist.core.application.batching import auto_batch_size
from optimist.core.application.shards import Chunk, map_chunks
from optimist.core.checks import check_images
from optimist.core.errors import DataMismatchError, ModelSpecError
from optimist.core.models import require_classifier
from optimist.core.models.layout import channels_last
from optimist.core.ranks import backend, world
from optimist.core.runtime import evaluating, library_versions, model_device, preserved, resolve_device, seeded
from optimist.core.settings import Settings
from optimist.core.specs import resolve_data, resolve_model


@dataclass
class Run:
    """What :func:`prepare` hands an application: everything resolved, checked and seeded.

    ``models``: label -> model, on ``device`` in eval mode (the caller's own objects; restored on exit).
    ``data``: the resolved data (an :class:`~optimist.core.data.ImageTensorDataset`, or what the application's
    ``data_resolver`` returned). ``generator``: a CPU ``torch.Generator`` and ``rng`` a numpy ``Generator``, both
    seeded with ``seed``. ``record``: the result's settings record (settings, model specs, seed, device, versions).
    """

    application: str
    models: dict[str, nn.Module]
    data: Any
    settings: Settings
    device: torch.device
    seed: int
    progress: bool
    generator: torch.Generator
    rng: np.random.Generator
    record: dict
    #: images per chunk of per-image work (the ``batch_size`` setting, else chosen to bound memory)
    batch_size: int = 256
    rank: int = 0
    world_size: int = 1

    @property
    def labels(self) -> list[str]:
        """The models' labels, in the caller's order."""
        return list(self.models)

    @property
    def is_main(self) -> bool:
        """True on the process that writes the outputs (rank 0; the only one without torchrun)."""
        return self.rank == 0

    def map(self, fn: Callable[..., Any], *tensors: torch.Tensor, desc: str = "images",
            batch_size: int | None = None) -> Any:
        """``fn(chunk, *slices)`` on chunks of ``batch_size`` (default ``run.batch_size``) images of
        ``tensors``, shared out over the processes and combined in order on every rank. ``fn`` draws randomness
        only from ``chunk.generator`` / ``chunk.rng`` / ``chunk.seed`` (or the global generators, reseeded per
        chunk), and returns tensors, arrays, data frames, lists, or dicts and tuples of them, one row per image.

        >>> import torch
        >>> from optimist.core.settings import Settings
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
        >>> with prepare("demo", {"net": net}, "digits?n=20", settings=Settings()) as run:
        ...     logits = run.map(lambda chunk, x: run.models["net"](x), run.data.images, batch_size=8)
        >>> tuple(logits.shape)
        (20, 10)
        """
        return map_chunks(fn, tensors, batch_size=batch_size or self.batch_size,
                          seed=self.seed, progress=self.progress, desc=desc)


@contextlib.contextmanager
def prepare(application: str, models: Mapping[str, nn.Module | str], data, *, settings: Settings,
            device: str | torch.device | None = None, seed: int = 0, progress: bool = True,
            data_resolver: Callable[[Any], tuple[Any, Any]] | None = None, labels: bool = True,
            classifiers: bool = False) -> Iterator[Run]:
    """Resolve, check and seed everything an application's ``compare`` needs; restore the caller's state after.

    ``data_resolver`` replaces :func:`~optimist.core.specs.resolve_data` for applications whose data is more than
    one test set: it returns ``(the application's data, the dataset checked against the models)``;
    ``labels=False`` accepts labels outside the models' classes (a transfer target); ``classifiers=True``
    requires models that expose ``features`` (:func:`~optimist.core.models.require_classifier`).

    >>> import torch
    >>> from optimist.core.settings import Settings
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).train()
    >>> with prepare("demo", {"net": net}, "digits?n=20", settings=Settings(), seed=1) as run:
    ...     print(run.labels, run.models["net"].training, tuple(run.data.images.shape))
    ['net'] False (20, 1, 8, 8)
    >>> net.training
    True
    """
    if not isinstance(settings, Settings):
        raise TypeError(f"prepare takes the application's validated settings (a Settings instance), got "
                        f"{type(settings).__name__}; call YourSettings.from_mapping(settings) first")
    dev = resolve_device(device)
    with seeded(seed, [dev]):  # training a zoo model on first use draws from the global RNGs: only in here
        named = resolve_models(models, progress=progress)
        if classifiers:
            for label, m in named.items():
                require_classifier(m, f"{application} (model {label!r})")
        resolved, checked = data_resolver(data) if data_resolver is not None else (resolve_data(data),) * 2
    check_compatible(named, checked, labels=labels)
    record = run_settings(application, settings, models, data, seed=seed, device=dev)
    rank, size = world()
    with preserved(named.values()), seeded(seed, [dev]) as gen, contextlib.ExitStack() as layouts:
        for m in named.values():
            m.to(dev).eval()
            layouts.enter_context(channels_last(m))  # oneDNN's fast layout on a CPU; restored on the way out
        chosen = getattr(settings, "batch_size", None)
        batch = int(chosen) if chosen else auto_batch_size(named.values(), tuple(checked.images.shape[1:]))
        record.update(batch_size=batch, world_size=size, **({"backend": backend()} if size > 1 else {}))
        yield Run(application, named, resolved, settings, dev, seed, progress, gen, np.random.default_rng(seed),
                  record, batch, rank, size)


def resolve_models(models: Mapping[str, nn.Module | str], *, progress: bool = True) -> dict[str, nn.Module]:
    """``{label: model or spec}`` -> ``{label: nn.Module}`` (specs through
    :func:`optimist.core.specs.resolve_model`; a zoo model not yet cached is trained, with progress bars only
    when ``progress``).

    >>> import torch
    >>> list(resolve_models({"mine": torch.nn.Linear(2, 2)}))
    ['mine']
    """
    if not isinstance(models, Mapping) or not models:
        raise ModelSpecError("models must be a non-empty mapping {label: model or spec}, e.g. "
                             "{'standard': 'zoo:fashion-mnist/small-cnn/standard', 'robust': my_model}")
    out = {}
    for label, m in models.items():
        if isinstance(m, nn.Module):
            out[str(label)] = m
        elif isinstance(m, (str, os.PathLike)):
            out[str(label)] = resolve_model(str(m), progress=progress)
        else:
            raise ModelSpecError(f"model {label!r} must be an nn.Module or a model spec string, got {type(m).__name__}")
    return out


def _expected_input(model: nn.Module) -> tuple[int | None, int | None]:
    return getattr(model, "in_channels", None), getattr(model, "image_size", None)


def check_compatible(models: Mapping[str, nn.Module], data, *, labels: bool = True) -> None:
    """Every model accepts the data: channels and size (from the model, or a probe forward) and, unless
    ``labels=False`` (a transfer target has classes of its own), labels within the model's classes."""
    x, y = data.images, data.targets
    check_images(x[:256], "data images")
    if len(x) == 0:
        raise DataMismatchError("the data holds no images")
    for label, model in models.items():
        c, s = _expected_input(model)
        if c is not None and c != x.shape[1]:
            raise DataMismatchError(
                f"model {label!r} takes {c}-channel images but the data has {x.shape[1]} channels; "
                f"{'convert to grey' if c == 1 else 'repeat the channel'} or choose a matching model")
        if s is not None and s != x.shape[-1]:
            raise DataMismatchError(
                f"model {label!r} takes {s}x{s} images but the data is {x.shape[-2]}x{x.shape[-1]}; "
                f"resize the data (data spec option ?size={s}, e.g. --data digits?size={s}) or choose a matching "
                "model")
        with evaluating(model), torch.no_grad():
            try:
                logits = model(x[:2].to(model_device(model)))
            except RuntimeError as e:
                raise DataMismatchError(f"model {label!r} cannot take images of shape {tuple(x.shape[1:])}: "
                                        f"{str(e).splitlines()[0]}") from e
        k = logits.shape[1]
        if labels and int(y.max()) >= k or int(y.min()) < 0:
            raise DataMismatchError(f"the data has labels in [{int(y.min())}, {int(y.max())}] but model {label!r} "
                                    f"has {k} classes")


def run_settings(app: str, settings: Settings, models: Mapping[str, nn.Module | str], data, *, seed: int,
                 device) -> dict:
    """The settings record of a result: enough to rerun it."""
    def spec(m):
        if isinstance(m, str):
            return m
        return getattr(m, "spec", None) or type(m).__name__

    return {"application": app, "settings": settings.to_dict(), "seed": seed, "device": str(device),
            "models": {k: spec(m) for k, m in models.items()},
            "data": data if isinstance(data, str) else getattr(getattr(data, "info", None), "name", "tensors"),
            "versions": library_versions()}


__all__ = ["Chunk", "Run", "check_compatible", "prepare", "resolve_data", "resolve_models", "run_settings"]
