"""Fine-tuning: which weights train, the source stays untouched, and a tiny budget learns a toy task."""

import pytest
import torch

from optimist.core.data import DatasetInfo, ImageTensorDataset
from optimist.core.models import build_model
from optimist.transfer import FinetuneConfig, finetune, finetune_accuracy
from optimist.transfer.finetune import accuracy, last_block, prepare


def _bright_half(n, seed):
    """Class 0: bright left half; class 1: bright right half (learnable in a few steps)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.rand(n, 1, 28, 28, generator=g) * 0.3
    x[y == 0, :, :, :14] += 0.6
    x[y == 1, :, :, 14:] += 0.6
    info = DatasetInfo("halves", ("left", "right"), 1, 28, (0.5,), (0.5,))
    return ImageTensorDataset(x.clamp(0, 1), y, info)


def test_last_block_of_small_cnn_is_its_hidden_linear():
    model = build_model("small-cnn", 5)
    block = last_block(model)
    assert isinstance(block, torch.nn.Linear) and block.out_features == 128
    tuned, _ = prepare(model, 3, "last-block")
    trainable = {n for n, p in tuned.named_parameters() if p.requires_grad}
    assert trainable == {"body.7.weight", "body.7.bias", "head.weight", "head.bias"}
    assert tuned.head.out_features == 3
    full, _ = prepare(model, 3, "full")
    assert all(p.requires_grad for p in full.parameters())
    with pytest.raises(ValueError, match="unknown fine-tuning mode"):
        prepare(model, 3, "middle")


@pytest.mark.parametrize("mode", ["full", "last-block"])
def test_tiny_budget_learns_and_leaves_source_alone(mode):
    torch.manual_seed(0)
    model = build_model("small-cnn", 5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train, test = _bright_half(64, 0), _bright_half(100, 1)
    cfg = FinetuneConfig(steps=30, batch_size=16, lr=3e-3)
    tuned = finetune(model, train, mode=mode, config=cfg, seed=0)
    assert accuracy(tuned, test) >= 0.9
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    if mode == "last-block":  # frozen layers really stayed frozen
        assert torch.equal(tuned.body[0].weight, model.body[0].weight)
        assert not torch.equal(tuned.body[7].weight, model.body[7].weight)
    else:
        assert not torch.equal(tuned.body[0].weight, model.body[0].weight)


def test_finetune_is_reproducible_and_validates_config():
    model = build_model("small-cnn", 5)
    train, test = _bright_half(32, 0), _bright_half(40, 1)
    cfg = FinetuneConfig(steps=4, batch_size=8)
    a = finetune(model, train, mode="full", config=cfg, seed=1)
    b = finetune(model, train, mode="full", config=cfg, seed=1)
    assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())
    # k-shot indices pick the fine-tuning images; the result is a test accuracy.
    acc = finetune_accuracy(model, train, test, mode="last-block", config=cfg, seed=1, train_indices=[0, 1, 2, 3])
    assert 0.0 <= acc <= 1.0
    with pytest.raises(ValueError, match="steps"):
        FinetuneConfig(steps=0)
