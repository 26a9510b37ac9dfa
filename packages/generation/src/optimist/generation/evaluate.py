"""Judging generated images with an independent evaluator (a classifier that never generated anything).

Per run: the evaluator's accuracy on the images (do they show their class to another model?), the same
accuracy under mild Gaussian noise (does the class evidence survive it, as a garment's shape does, or is it a
fragile pattern that merely transfers from one standard model to another?), the Fréchet
distance in the evaluator's feature space to real test images of the same classes, the per-class diversity
of those features, and, where a ground truth exists, its MSE and SSIM. :func:`judge` lays several
generator models run from the same seeds side by side, with the seeds themselves and real images as
reference rows.
"""

from __future__ import annotations

import math

import pandas as pd
import torch
from torch import nn

from optimist.core.checks import check_images
from optimist.core.data import subset
from optimist.core.errors import InputError
from optimist.core.models import build_for_dataset, require_classifier
from optimist.core.runtime import evaluating, model_device
from optimist.core.train import TrainConfig, train
from optimist.generation.metrics import PCAProjection, class_diversity, frechet_distance, mse, ssim
from optimist.generation.result import TaskResult

PCA_DIM = 16
REFERENCE_PER_IMAGE = 10
NOISE_SIGMA = 0.1
NOISE_DRAWS = 4


class Evaluator:
    """A classifier used only to judge images: predictions and penultimate features, computed in batches."""

    def __init__(self, model: nn.Module, name: str = "evaluator"):
        require_classifier(model, "the evaluator")
        self.model = model
        self.name = name

    def check_independent(self, generator: nn.Module) -> None:
        """Raise if ``generator`` is (or shares weights with) the evaluator: a model cannot judge itself."""
        if generator is self.model:
            raise InputError(f"the evaluator {self.name!r} is the generating model; use an independent classifier")
        ours = {p.data_ptr() for p in self.model.parameters()}
        if any(p.data_ptr() in ours for p in generator.parameters()):
            raise InputError(f"the generating model shares weights with the evaluator {self.name!r}")

    @torch.no_grad()
    def _run(self, x: torch.Tensor, batch: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
        check_images(x, "images")
        device = model_device(self.model)
        feats, preds = [], []
        with evaluating(self.model):
            for lo in range(0, x.shape[0], batch):
                f = self.model.features(x[lo:lo + batch].to(device))
                feats.append(f.cpu())
                preds.append(self.model.head(f).argmax(1).cpu())
        return torch.cat(feats), torch.cat(preds)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x)[0]

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x)[1]


class RealReference:
    """Real images (kept apart from the tasks' inputs) and their evaluator features: the target distribution.

    The PCA projection used by every Fréchet distance is fitted here, once, on these real features.
    """

    def __init__(self, evaluator: Evaluator, images: torch.Tensor, labels: torch.Tensor, pca_dim: int = PCA_DIM):
        if labels.ndim != 1 or len(labels) != len(images):
            raise InputError(f"labels must be 1-D with one entry per image, got {tuple(labels.shape)}")
        self.evaluator = evaluator
        self.images = images
        self.labels = labels.long()
        self.features = self._features(images)
        self.projection = PCAProjection.fit(self.features.numpy(), pca_dim)

    def _features(self, images: torch.Tensor) -> torch.Tensor:
        """The space the Fréchet distances are measured in: the evaluator's features."""
        return self.evaluator.features(images)

    def sample_like(self, targets: torch.Tensor, per_image: int = REFERENCE_PER_IMAGE, seed: int = 0,
                    exclude: torch.Tensor | None = None) -> torch.Tensor:
        """Indices of ``per_image`` real images per entry of ``targets``, same classes (without replacement
        while a class has enough images). ``exclude`` holds indices not to draw."""
        g = torch.Generator().manual_seed(seed)
        out = []
        banned = torch.zeros(len(self.labels), dtype=torch.bool)
        if exclude is not None:
            banned[exclude] = True
        for k in targets.unique().tolist():
            need = int((targets == k).sum()) * per_image
            pool = ((self.labels == k) & ~banned).nonzero().flatten()
            if len(pool) == 0 and exclude is not None and bool((self.labels == k).any()):
                import warnings

                warnings.warn(f"the real reference is too small to keep class {k}'s draws disjoint from the "
                              "Fréchet sample; reusing its images (use a larger reference)", stacklevel=2)
                pool = (self.labels == k).nonzero().flatten()
            if len(pool) == 0:
                raise InputError(f"the real reference has no images of class {k}")
            if len(pool) >= need:
                out.append(pool[torch.randperm(len(pool), generator=g)[:need]])
            else:
                out.append(pool[torch.randint(len(pool), (need,), generator=g)])
        return torch.cat(out)

    def frechet(self, features: torch.Tensor, targets: torch.Tensor, seed: int = 0) -> float:
        """FD (in the PCA space) between ``features`` and real features of the same class mix."""
        idx = self.sample_like(targets, seed=seed)
        proj = self.projection
        return frechet_distance(proj(features.numpy()), proj(self.features[idx].numpy()))


class PixelReference(RealReference):
    """Real images as raw pixels with a PCA fitted on them: a Fréchet-distance space that no classifier defines,
    so an adversarial pattern aimed at a network cannot buy a lower distance in it.

    >>> ref = PixelReference(torch.rand(40, 1, 8, 8), torch.arange(40) % 4, pca_dim=4)
    >>> ref.features.shape, ref.evaluator is None
    (torch.Size([40, 64]), True)
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, pca_dim: int = PCA_DIM):
        super().__init__(None, images, labels, pca_dim)

    def _features(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, "reference images")
        return pixel_features(images)


def pixel_features(images: torch.Tensor) -> torch.Tensor:
    """Images as flat float64 pixel vectors: the feature space of :class:`PixelReference`."""
    return images.flatten(1).double()


def train_evaluator(data, *, arch: str = "mlp", n: int = 3000, epochs: int = 1, seed: int = 7) -> nn.Module:
    """A cheap stand-in evaluator (tests, quick demos): ``arch`` trained on ``n`` images of ``data``.

    Use an architecture other than the generator's; the zoo's ``fashion-mnist/lenet/evaluator`` is the real one.

    Examples
    --------
    >>> from optimist.core.data import load_dataset
    >>> # skipped when run as a doctest: it trains an MLP for an epoch on 3,000 Fashion-MNIST images
    >>> evaluator = train_evaluator(load_dataset("fashion-mnist", "train"), arch="mlp", n=3000)  # doctest: +SKIP
    """
    torch.manual_seed(seed)
    model = build_for_dataset(arch, data.info)
    train(model, subset(data, n, seed=seed), TrainConfig(epochs=epochs, seed=seed), progress=False)
    return model.eval()


def noised_accuracy(images: torch.Tensor, targets: torch.Tensor, evaluator: Evaluator, sigma: float = NOISE_SIGMA,
                    draws: int = NOISE_DRAWS, seed: int = 0) -> float:
    """Evaluator accuracy on ``images`` plus N(0, sigma^2) pixel noise (clipped to [0, 1]), over ``draws`` draws.

    Small adversarial patterns from a standard generator transfer to a standard evaluator (Ilyas et al. 2019)
    but do not survive noise of this size; a garment's shape does. Real images set the floor (see
    :func:`real_floor`).
    """
    if sigma < 0 or draws < 1:
        raise InputError(f"need sigma >= 0 and draws >= 1, got {sigma}, {draws}")
    g = torch.Generator().manual_seed(seed)
    hits = 0.0
    for _ in range(draws):
        noisy = (images + sigma * torch.randn(images.shape, generator=g)).clamp(0, 1)
        hits += (evaluator.predict(noisy) == targets).float().mean().item()
    return hits / draws


def quality(images: torch.Tensor, targets: torch.Tensor | None, reference: RealReference,
            ground_truth: torch.Tensor | None = None, seed: int = 0) -> dict:
    """Evaluator accuracy, Fréchet distance, per-class diversity and (with a ground truth) MSE and SSIM."""
    feats, preds = reference.evaluator._run(images)
    row = {"n": images.shape[0]}
    if targets is not None and len(targets) >= 2:
        row["evaluator accuracy"] = (preds == targets).float().mean().item()
        row["noised accuracy"] = noised_accuracy(images, targets, reference.evaluator, seed=seed)
        row["frechet"] = reference.frechet(feats, targets, seed=seed)
        row["diversity"] = class_diversity(feats, targets)
    if ground_truth is not None:
        row["mse"] = mse(images, ground_truth).mean().item()
        row["ssim"] = ssim(images, ground_truth).mean().item()
    return row


def real_floor(targets: torch.Tensor, reference: RealReference, seed: int = 0) -> dict:
    """The same measures for ``len(targets)`` real images of the same classes, disjoint from the FD sample.

    Fréchet distance from few samples is biased upward; this row is the value a perfect generator would get.
    """
    fd_idx = reference.sample_like(targets, seed=seed)
    own = reference.sample_like(targets, per_image=1, seed=seed + 1, exclude=fd_idx)
    feats = reference.features[own]
    labels = reference.labels[own]
    proj = reference.projection
    with torch.no_grad():
        preds = reference.evaluator.model.head(feats.to(model_device(reference.evaluator.model))).argmax(1).cpu()
    return {"n": len(own), "evaluator accuracy": (preds == labels).float().mean().item(),
            "noised accuracy": noised_accuracy(reference.images[own], labels, reference.evaluator, seed=seed),
            "frechet": frechet_distance(proj(feats.numpy()), proj(reference.features[fd_idx].numpy())),
            "diversity": class_diversity(feats, labels)}


def judge(results: dict[str, TaskResult], reference: RealReference, *, seed: int = 0,
            include_seed: bool = True, include_real: bool = True) -> pd.DataFrame:
    """One row per generator model (plus the shared seeds and real images) for one task run on the same seeds.

    Examples
    --------
    >>> import torch
    >>> from optimist.core.models import build_model
    >>> from optimist.generation import Budget
    >>> model = build_model("small-cnn", 10, 1, 28).eval()
    >>> from optimist.generation import generate
    >>> from optimist.generation.evaluate import Evaluator, RealReference
    >>> evaluator = Evaluator(build_model("mlp", 10, 1, 28).eval())  # untrained here; use an independent classifier
    >>> reference = RealReference(evaluator, torch.rand(80, 1, 28, 28), torch.arange(80) % 4, pca_dim=4)
    >>> seeds, targets = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    >>> result = generate(model, seeds, targets, budget=Budget(eps=2.0, step_size=0.5, steps=3))
    >>> judge({"net": result}, reference)["generator"].tolist()
    ['seed (no PGD)', 'net', 'real images']
    """
    if not results:
        raise InputError("results is empty: pass {model name: TaskResult}")
    first = next(iter(results.values()))
    for name, r in results.items():
        if r.task != first.task or not torch.equal(r.seeds, first.seeds):
            raise InputError(f"result {name!r} was not run on the same task and seeds as the others; "
                             "compare models from identical seeds")
    rows = []
    if include_seed:
        rows.append({"task": first.task, "generator": "seed (no PGD)",
                     **quality(first.seeds, first.targets, reference, first.reference, seed)})
    for name, r in results.items():
        row = {"task": r.task, "generator": name, **quality(r.images, r.targets, reference, r.reference, seed)}
        row["objective"] = r.objective.mean().item()
        row["seed objective"] = r.seed_objective.mean().item()
        row["L2 moved"] = r.distance.mean().item()
        for key, value in r.extras.items():  # per-example diagnostics, e.g. inpainting's unmasked_rms
            if value.is_floating_point() and value.shape == (len(r),):
                row[key.replace("_", " ")] = value.mean().item()
        rows.append(row)
    if include_real and first.targets is not None and len(first.targets) >= 2:
        rows.append({"task": first.task, "generator": "real images", **real_floor(first.targets, reference, seed)})
    return pd.DataFrame(rows)


def improvement_summary(table: pd.DataFrame, robust: str, standard: str) -> pd.DataFrame:
    """Per task: robust minus standard accuracies and standard minus robust FD (positive = robust better)."""
    out = []
    for task, t in table.groupby("task", sort=False):
        r = t[t.generator == robust]
        s = t[t.generator == standard]
        if r.empty or s.empty:
            continue
        row = {"task": task}
        for col, sign in (("evaluator accuracy", 1), ("noised accuracy", 1), ("frechet", -1), ("ssim", 1),
                          ("mse", -1)):
            if col in t and not (math.isnan(r[col].iloc[0]) or math.isnan(s[col].iloc[0])):
                row[f"{col} gain"] = sign * (r[col].iloc[0] - s[col].iloc[0])
        out.append(row)
    return pd.DataFrame(out).set_index("task") if out else pd.DataFrame()


__all__ = ["Evaluator", "PixelReference", "RealReference", "improvement_summary", "judge", "noised_accuracy",
           "pixel_features", "quality", "real_floor", "train_evaluator"]
