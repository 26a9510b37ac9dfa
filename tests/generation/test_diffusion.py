"""Robust-classifier guidance for diffusion: tiny UNet, 2-4 steps, a handful of images."""

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler
from torch import nn

from optimist.core.models import build_model
from optimist.generation.diffusion import (
    BigrocRefiner,
    CleanGuidance,
    DDPMTrainConfig,
    GuidedDiffusionPipeline,
    NoiseAwareClassifier,
    NoiseAwareGuidance,
    NoiseClassifierConfig,
    attack_noised,
    build_unet,
    ddpm_loss,
    get_ddpm,
    get_noise_classifier,
    make_scheduler,
    to_image_space,
    to_model_space,
    train_step,
)
from optimist.generation.diffusion.unet import UNetConfig

LABELS = [0, 3, 7, 9]


@pytest.fixture(scope="module")
def tiny_unet():
    torch.manual_seed(0)
    return build_unet("tiny").eval()


def ddim(clip: bool = True) -> DDIMScheduler:
    return DDIMScheduler.from_config(make_scheduler().config, clip_sample=clip)


def pipe_for(unet, scheduler=None) -> GuidedDiffusionPipeline:
    pipe = GuidedDiffusionPipeline(unet=unet, scheduler=scheduler or ddim())
    pipe.set_progress_bar_config(disable=True)
    return pipe


class PixelClassifier(nn.Module):
    """A linear clean-image classifier on [0, 1] images (its input gradient is known and fixed)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.linear = nn.Linear(28 * 28, 10)

    def forward(self, x):
        return self.linear(x.flatten(1))


def run(pipe, seed=0, **kw):
    return pipe(LABELS, num_inference_steps=kw.pop("steps", 3), generator=torch.Generator().manual_seed(seed), **kw)


def test_pixel_spaces_round_trip():
    x = torch.rand(2, 1, 28, 28)
    m = to_model_space(x)
    assert m.shape == (2, 1, 32, 32) and m.min() >= -1 and m.max() <= 1
    assert torch.allclose(to_image_space(m), x, atol=1e-6)
    with pytest.raises(ValueError):
        to_model_space(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError):
        UNetConfig(block_out_channels=(8, 12), norm_num_groups=8)
    with pytest.raises(ValueError):
        build_unet("huge")


@pytest.mark.parametrize("scheduler", ["ddim", "ddpm"])
def test_pipeline_range_and_determinism(tiny_unet, scheduler):
    sched = ddim() if scheduler == "ddim" else DDPMScheduler.from_config(make_scheduler().config)
    pipe = pipe_for(tiny_unet, sched)
    a, b, c = run(pipe, 0), run(pipe, 0), run(pipe, 1)
    assert a.images.shape == (4, 1, 28, 28)
    assert a.images.min() >= 0 and a.images.max() <= 1
    assert torch.equal(a.images, b.images)
    assert not torch.equal(a.images, c.images)
    assert a.labels.tolist() == LABELS


def test_scale_zero_equals_unguided(tiny_unet):
    pipe = pipe_for(tiny_unet)
    plain = run(pipe).images
    guided0 = run(pipe, guidance=CleanGuidance(PixelClassifier()), guidance_scale=0.0).images
    assert torch.equal(plain, guided0)
    guided = run(pipe, guidance=CleanGuidance(PixelClassifier()), guidance_scale=5.0).images
    assert not torch.equal(plain, guided)


def test_pipeline_rejects_bad_input(tiny_unet):
    pipe = pipe_for(tiny_unet)
    with pytest.raises(ValueError, match="empty"):
        pipe([], num_inference_steps=2)
    with pytest.raises(ValueError, match="guidance"):
        pipe([0], guidance_scale=1.0, num_inference_steps=2)
    with pytest.raises(ValueError, match=">= 0"):
        pipe([0], guidance=CleanGuidance(PixelClassifier()), guidance_scale=-1.0, num_inference_steps=2)
    with pytest.raises(ValueError, match="labels"):
        pipe([12], guidance=CleanGuidance(PixelClassifier()), guidance_scale=1.0, num_inference_steps=2)


def _one_step(pipe, guidance, scale, t_index=1):
    """x_{t-1} from the same x_t, unguided and guided (DDIM without clipping, so the step is linear in eps)."""
    pipe.scheduler.set_timesteps(4)
    t = pipe.scheduler.timesteps[t_index]
    labels = torch.tensor(LABELS)
    sample = torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        eps = pipe.unet(sample, t).sample
        eps_g = pipe.guide(eps, sample, t, labels, guidance, scale)
        plain = pipe.scheduler.step(eps, t, sample).prev_sample
        guided = pipe.scheduler.step(eps_g, t, sample).prev_sample
    return t, labels, plain, guided


def _target_logit(logits, labels):
    return logits.gather(1, labels[:, None]).squeeze(1)


def test_noise_aware_guidance_raises_target_logit(tiny_unet):
    torch.manual_seed(0)
    clf = NoiseAwareClassifier(width=8).eval()
    pipe = pipe_for(tiny_unet, ddim(clip=False))
    t, labels, plain, guided = _one_step(pipe, NoiseAwareGuidance(clf), scale=0.5)
    prev_t = t - pipe.scheduler.config.num_train_timesteps // 4
    with torch.no_grad():
        up = _target_logit(clf(guided, prev_t), labels) - _target_logit(clf(plain, prev_t), labels)
    assert (up > 0).all(), up


@pytest.mark.parametrize("through_unet,weighting", [(True, "x0"), (False, "x0"), (True, "xt"), (False, "xt")])
def test_clean_guidance_raises_target_logit(tiny_unet, through_unet, weighting):
    clf = PixelClassifier().eval()
    pipe = pipe_for(tiny_unet, ddim(clip=False))
    _, labels, plain, guided = _one_step(pipe, CleanGuidance(clf, through_unet=through_unet, weighting=weighting),
                                         scale=0.5)
    with torch.no_grad():
        # Judge the (unclamped) images themselves: the linear classifier's logit of the requested class.
        up = _target_logit(clf(to_image_space(guided, clamp=False)), labels) - \
            _target_logit(clf(to_image_space(plain, clamp=False)), labels)
    assert (up > 0).all(), up


def test_x0_weighting_moves_the_predicted_clean_image_by_the_scaled_gradient(tiny_unet):
    """x0 weighting: the shifted noise prediction corresponds to x0_hat + s * grad_x0 log p (eps held constant)."""
    clf = PixelClassifier().eval()
    sched = make_scheduler()
    torch.manual_seed(1)
    x = torch.randn(3, 1, 32, 32)
    t = torch.tensor(600)
    labels = torch.tensor([0, 1, 0])
    xt = CleanGuidance(clf, through_unet=False, weighting="xt").gradient(tiny_unet, sched, x, t, labels)
    x0 = CleanGuidance(clf, through_unet=False, weighting="x0").gradient(tiny_unet, sched, x, t, labels)
    a = sched.alphas_cumprod[t]
    assert torch.allclose(x0, xt * a / (1 - a))
    # eps' = eps - s sqrt(1-a) * g_x0-weighted  <=>  x0_hat' = x0_hat + s * sqrt(a) * g_xt = x0_hat + s * grad_x0
    s = 0.7
    shift_x0 = s * (1 - a).sqrt() * x0 * (1 - a).sqrt() / a.sqrt()
    assert torch.allclose(shift_x0, s * xt * a.sqrt(), atol=1e-6)
    with pytest.raises(ValueError, match="weighting"):
        CleanGuidance(clf, weighting="eps")


def test_ddpm_training_step_lowers_loss():
    torch.manual_seed(0)
    unet, sched = build_unet("tiny"), make_scheduler()
    clean = to_model_space(torch.rand(8, 1, 28, 28).round())
    g = torch.Generator().manual_seed(0)
    t = torch.randint(0, 1000, (8,), generator=g)
    noise = torch.randn(clean.shape, generator=g)
    with torch.no_grad():
        before = ddpm_loss(unet.eval(), sched, clean, timesteps=t, noise=noise).item()
    opt = torch.optim.Adam(unet.parameters(), lr=2e-3)
    for _ in range(15):
        train_step(unet, sched, opt, clean, generator=g)
    with torch.no_grad():
        after = ddpm_loss(unet.eval(), sched, clean, timesteps=t, noise=noise).item()
    assert after < before


def test_ddpm_cache_round_trip(tmp_path):
    images = torch.rand(16, 1, 28, 28)
    cfg = DDPMTrainConfig(steps=2, batch_size=4)
    pipe, info = get_ddpm("tiny", cfg, root=tmp_path, images=images, progress=False)
    assert not info["cached"] and (tmp_path / "diffusion").is_dir()
    again, info2 = get_ddpm("tiny", cfg, root=tmp_path, images=images, progress=False)
    assert info2["cached"]
    for p in (pipe, again):
        p.set_progress_bar_config(disable=True)
    assert torch.equal(run(pipe, steps=2).images, run(again, steps=2).images)


def test_noise_classifier_attack_and_cache(tmp_path):
    torch.manual_seed(0)
    clf = NoiseAwareClassifier(width=8).eval()
    x_t = torch.randn(4, 1, 32, 32)
    labels, t = torch.tensor(LABELS), torch.tensor([10, 200, 500, 900])
    adv = attack_noised(clf, x_t, labels, t, eps=0.5, steps=3)
    assert ((adv - x_t).flatten(1).norm(dim=1) <= 0.5 + 1e-4).all()
    ce = nn.functional.cross_entropy
    with torch.no_grad():
        assert ce(clf(adv, t), labels) >= ce(clf(x_t, t), labels)
    images, ys = torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,))
    cfg = NoiseClassifierConfig(steps=2, batch_size=8, eps=0.5, attack_steps=1, width=8)
    model, info = get_noise_classifier(cfg, root=tmp_path, images=images, labels=ys, progress=False)
    assert not info["cached"]
    loaded, info2 = get_noise_classifier(cfg, root=tmp_path, images=images, labels=ys, progress=False)
    assert info2["cached"]
    assert torch.equal(model(x_t, t), loaded(x_t, t))
    with pytest.raises(ValueError):
        NoiseClassifierConfig(eps=-1)


def test_bigroc_refinement_moves_toward_class():
    torch.manual_seed(0)
    clf = build_model("small-cnn", 10, 1, 28).eval()
    images = torch.rand(4, 1, 28, 28)
    labels = torch.tensor(LABELS)
    refined = BigrocRefiner(clf, eps=1.0, steps=3)(images, labels)
    assert refined.min() >= 0 and refined.max() <= 1
    assert ((refined - images).flatten(1).norm(dim=1) <= 1.0 + 1e-4).all()
    ce = nn.functional.cross_entropy
    with torch.no_grad():
        assert ce(clf(refined), labels) < ce(clf(images), labels)
    with pytest.raises(ValueError):
        BigrocRefiner(clf, eps=0)
