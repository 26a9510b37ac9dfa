"""The diffusion zoo: a trained DDPM and noise-aware classifiers cached under ``$OPTIMIST_HOME/zoo/diffusion``.

The DDPM is stored with diffusers' ``save_pretrained`` (unet/ and scheduler/ folders plus model_index.json)
and loaded with ``from_pretrained``. Every entry is written to a temporary folder and renamed into place,
so an interrupted run never leaves a half-written model that looks cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from diffusers import DDPMScheduler, UNet2DModel

from optimist.core.data import load_dataset
from optimist.core.paths import optimist_home
from optimist.generation.diffusion.noise_classifier import (
    NoiseAwareClassifier,
    NoiseClassifierConfig,
    train_noise_classifier,
)
from optimist.generation.diffusion.pipeline import GuidedDiffusionPipeline
from optimist.generation.diffusion.train_ddpm import CPU_TRAINING, DDPMTrainConfig, make_scheduler, train_ddpm
from optimist.generation.diffusion.unet import build_unet, unet_config

INFO = "optimist.json"


def diffusion_dir(root: str | os.PathLike | None = None) -> Path:
    """``root`` (a zoo folder) or ``$OPTIMIST_HOME/zoo``, plus ``diffusion``."""
    return (Path(root) if root is not None else optimist_home() / "zoo") / "diffusion"


def _publish(tmp: Path, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():  # another process finished first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
        return
    os.replace(tmp, final)


def ddpm_name(unet: str, training: DDPMTrainConfig) -> str:
    return f"ddpm-{unet}-{training.steps}steps-b{training.batch_size}"


def save_ddpm(pipe: GuidedDiffusionPipeline, path: Path, info: dict) -> None:
    """``save_pretrained`` into a temporary sibling folder, then rename to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
    pipe.save_pretrained(tmp)
    (tmp / INFO).write_text(json.dumps(info, indent=2))
    _publish(tmp, path)


def load_ddpm(path: str | os.PathLike) -> GuidedDiffusionPipeline:
    """A cached DDPM as a :class:`GuidedDiffusionPipeline` (``from_pretrained`` of its folders)."""
    path = Path(path)
    if not (path / "model_index.json").exists():
        raise FileNotFoundError(f"no saved pipeline in {path}")
    unet = UNet2DModel.from_pretrained(path / "unet").eval()
    scheduler = DDPMScheduler.from_pretrained(path / "scheduler")
    return GuidedDiffusionPipeline(unet=unet, scheduler=scheduler)


def get_ddpm(unet: str = "small", training: DDPMTrainConfig = CPU_TRAINING, root: str | os.PathLike | None = None,
             images: torch.Tensor | None = None, progress: bool = True, device: str = "cpu"
             ) -> tuple[GuidedDiffusionPipeline, dict]:
    """The cached DDPM for these settings, trained (on Fashion-MNIST train, or ``images``) and cached if absent.

    Returns (pipeline, info) where info records the settings, training time and whether it was just trained.
    """
    unet_config(unet)
    path = diffusion_dir(root) / ddpm_name(unet, training)
    if (path / "model_index.json").exists():
        info = json.loads((path / INFO).read_text()) if (path / INFO).exists() else {}
        return load_ddpm(path), {**info, "cached": True, "path": str(path)}
    if images is None:
        images = load_dataset("fashion-mnist", "train").images
    if progress:
        print(f"[optimist diffusion] no cached DDPM at {path}: training one ({unet} UNet, {training.steps} steps)",
              flush=True)
    model, history = train_ddpm(build_unet(unet), images, training, progress=progress, device=device)
    pipe = GuidedDiffusionPipeline(unet=model, scheduler=make_scheduler())
    info = {"unet": unet, "unet_config": unet_config(unet).to_dict(), "training": training.to_dict(),
            "seconds": history["seconds"], "final_loss": sum(history["loss"][-100:]) / len(history["loss"][-100:])}
    save_ddpm(pipe, path, info)
    return load_ddpm(path), {**info, "cached": False, "path": str(path)}


def get_noise_classifier(config: NoiseClassifierConfig, root: str | os.PathLike | None = None,
                         images: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                         progress: bool = True) -> tuple[NoiseAwareClassifier, dict]:
    """The cached noise-aware classifier for ``config`` (standard when eps = 0), trained first if absent."""
    tag = f"adv-l2-{config.eps:g}" if config.adversarial else "standard"
    recipe = hashlib.sha1(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
    path = diffusion_dir(root) / f"noise-classifier-{tag}-{config.steps}steps-w{config.width}-{recipe}"
    if (path / "model.pt").exists():
        info = json.loads((path / INFO).read_text())
        model = NoiseAwareClassifier(width=config.width)
        model.load_state_dict(torch.load(path / "model.pt", map_location="cpu", weights_only=True))
        return model.eval(), {**info, "cached": True, "path": str(path)}
    if images is None or labels is None:
        ds = load_dataset("fashion-mnist", "train")
        images, labels = ds.images, ds.targets
    if progress:
        print(f"[optimist diffusion] training noise-aware classifier {tag}; cached in {path}", flush=True)
    model, history = train_noise_classifier(images, labels, make_scheduler(), config, progress=progress)
    info = {"config": config.to_dict(), "seconds": history["seconds"],
            "final_loss": sum(history["loss"][-50:]) / len(history["loss"][-50:])}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
    torch.save(model.state_dict(), tmp / "model.pt")
    (tmp / INFO).write_text(json.dumps(info, indent=2))
    _publish(tmp, path)
    return model, {**info, "cached": False, "path": str(path)}
