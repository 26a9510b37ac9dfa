"""Noise-aware classifiers: the adversarial trainer's attack, accuracy versus t, the demo's settings."""

import pytest
import torch
from torch import nn

from optimist.core.demo import DemoOptions
from optimist.generation.diffusion import NoiseAwareClassifier, NoiseClassifierConfig, attack_noised, make_scheduler
from optimist.generation.diffusion.compare import margins
from optimist.generation.diffusion.demo import DiffusionDemoSettings
from optimist.generation.diffusion.noise_classifier import TIMESTEPS, noised_accuracy, train_noise_classifier
from optimist.generation.diffusion.noise_curve import accuracy_curve, plot_accuracy_curve


def _half_fooled(n=8, seed=0):
    """A random classifier, x_t, t, and labels that it gets right for the first half and wrong for the rest."""
    torch.manual_seed(seed)
    clf = NoiseAwareClassifier(width=8).eval()
    x_t = torch.randn(n, 1, 32, 32)
    t = torch.linspace(0, 999, n).long()
    with torch.no_grad():
        pred = clf(x_t, t).argmax(1)
    labels = pred.clone()
    labels[n // 2:] = (pred[n // 2:] + 1) % 10
    return clf, x_t, t, labels


def test_attack_respects_eps_on_x_t_and_early_stop_keeps_fooled_samples():
    clf, x_t, t, labels = _half_fooled()
    adv = attack_noised(clf, x_t, labels, t, eps=0.5, steps=7)
    dist = (adv - x_t).flatten(1).norm(dim=1)
    assert (dist <= 0.5 + 1e-4).all()
    assert torch.allclose(adv[4:], x_t[4:], atol=1e-5)  # misclassified from the start: not moved
    assert (dist[:4] > 0.1).all()  # the correctly classified ones are attacked
    ce = nn.functional.cross_entropy
    with torch.no_grad():
        assert ce(clf(adv[:4], t[:4]), labels[:4]) > ce(clf(x_t[:4], t[:4]), labels[:4])
    # without early stop the already-fooled ones are pushed further too (so the check above can fail)
    free = attack_noised(clf, x_t, labels, t, eps=0.5, steps=7, early_stop=False)
    assert ((free[4:] - x_t[4:]).flatten(1).norm(dim=1) > 0.1).all()
    assert ((free - x_t).flatten(1).norm(dim=1) <= 0.5 + 1e-4).all()


def test_pgd_objective_success_shape_is_checked():
    from optimist.core.attacks import pgd

    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    x = torch.rand(3, 1, 2, 2)
    with pytest.raises(ValueError, match="success"):
        pgd(model, x, torch.zeros(3), "l2:0.1", steps=1,
            objective=lambda m, z, y: (m(z).sum(1), torch.ones(2, dtype=torch.bool)), early_stop=True)


class Brightness(nn.Module):
    """Two classes, dark (0) and bright (1), read from the mean of x_t: trivially separable when clean."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, x, t=None):
        m = x.mean((1, 2, 3)) * self.w
        if x.shape[-1] == 32:  # model space: background padding is -1 for both classes
            m = m + 1 - 28 * 28 / (32 * 32)
        else:  # image space in [0, 1]
            m = m - 0.5
        return torch.stack([-m, m], 1)


def _toy(n=200):
    labels = torch.arange(n) % 2
    images = torch.where(labels[:, None, None, None] == 1, 0.9, 0.1) * torch.ones(n, 1, 28, 28)
    return images, labels


def test_accuracy_versus_t_returns_the_grid_and_falls_with_noise():
    images, labels = _toy()
    acc = noised_accuracy(Brightness(), images, labels, make_scheduler())
    assert list(acc) == list(TIMESTEPS)
    values = list(acc.values())
    assert values[0] == 1.0 and values[-1] < 0.85
    assert all(b <= a + 0.06 for a, b in zip(values, values[1:]))  # monotone up to sampling noise
    assert acc == noised_accuracy(Brightness(), images, labels, make_scheduler())  # seeded


class ZeroNoise(nn.Module):
    """A 'UNet' predicting zero noise: then x0_hat = x_t / sqrt(alpha_bar_t)."""

    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(()))

    def forward(self, x, t):
        return type("Out", (), {"sample": torch.zeros_like(x) + self.p})()


def test_accuracy_curve_table_and_figure():
    images, labels = _toy(40)
    table = accuracy_curve({"toy": Brightness()}, images, labels, make_scheduler(), unet=ZeroNoise(),
                           clean_models={"toy clean": Brightness()}, timesteps=(0, 500, 950))
    assert list(table.index) == [0, 500, 950]
    assert list(table.columns) == ["alpha_bar", "snr", "x_t: toy", "x0-hat: toy clean"]
    assert table["alpha_bar"].is_monotonic_decreasing and table["snr"].is_monotonic_decreasing
    assert table.loc[0, "x0-hat: toy clean"] == 1.0 and table.loc[0, "x_t: toy"] == 1.0
    plot_accuracy_curve(table)
    with pytest.raises(ValueError):
        accuracy_curve({"toy": Brightness()}, images, labels, make_scheduler(), timesteps=())


def test_kawar_recipe_defaults_and_adversarial_training_runs():
    cfg = NoiseClassifierConfig()
    assert (cfg.lr, cfg.attack_steps, cfg.lr_schedule, cfg.early_stop) == (3e-4, 7, "constant", True)
    images, ys = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
    small = NoiseClassifierConfig(steps=2, batch_size=4, eps=0.5, attack_steps=2, width=8)
    model, hist = train_noise_classifier(images, ys, make_scheduler(), small, progress=False)
    assert len(hist["loss"]) == 2 and len(hist["train error"]) == 2 and not model.training
    for bad in (dict(lr_schedule="cosine"), dict(lr=0.0), dict(weight_decay=-1.0), dict(width=4)):
        with pytest.raises(ValueError):
            NoiseClassifierConfig(**bad)


def test_demo_settings_presets_and_validation(tmp_path):
    opts = dict(out_dir=tmp_path)
    cpu = DiffusionDemoSettings.from_options(DemoOptions(**opts))
    assert cpu.preset == "cpu" and cpu.noise_scales == cpu.x0_scales  # one sweep for every kind
    gpu = DiffusionDemoSettings.from_options(DemoOptions(**opts, extra={"preset": "gpu", "per_class": 3}))
    assert gpu.unet == "gpu" and gpu.noise_steps > cpu.noise_steps and gpu.per_class == 3
    quick = DiffusionDemoSettings.from_options(DemoOptions(**opts, quick=True))
    assert quick.noise_steps <= 10 and quick.curve_size <= 50 and quick.ddpm_steps <= 20
    for extra in ({"diffusion": {"presett": "gpu"}}, {"preset": "tpu"}, {"kinds": ["x1"]}, {"curve_timesteps": [1000]}):
        with pytest.raises(ValueError):
            DiffusionDemoSettings.from_options(DemoOptions(**opts, extra=extra))


def test_margins_interval_brackets_the_gain():
    import pandas as pd

    best = pd.DataFrame([{"kind": "r", "best accuracy": 0.75, "at scale": 3.0, "best frechet": 10.0},
                         {"kind": "s", "best accuracy": 0.25, "at scale": 1.0, "best frechet": 20.0}])
    correct = {("r", 3.0): torch.tensor([1, 1, 1, 0] * 5).bool(), ("s", 1.0): torch.tensor([1, 0, 0, 0] * 5).bool()}
    m = margins(best, "r", "s", correct=correct)
    assert m["accuracy gain"] == pytest.approx(0.5) and m["frechet gain"] == 10.0
    assert m["gain low"] < 0.5 < m["gain high"] and m["gain low"] > 0 and m["n"] == 20
