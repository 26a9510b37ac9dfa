import pytest
import torch
from torch import nn

from optimist.core.models import available_models, build_model


@pytest.mark.parametrize("name", available_models())
def test_forward_and_features(name):
    size = 64 if name.startswith("tv-") else 28
    channels = 3 if "resnet" in name else 1
    m = build_model(name, num_classes=7, in_channels=channels, image_size=size).eval()
    x = torch.rand(2, channels, size, size)
    with torch.no_grad():
        logits, feats = m(x), m.features(x)
    assert logits.shape == (2, 7)
    assert feats.shape == (2, m.feature_dim)
    assert torch.allclose(m.head(feats), logits, atol=1e-5)


def test_normalisation_lives_in_model():
    m = build_model("small-cnn", 10, 1, 28, mean=[0.3], std=[0.2])
    assert torch.allclose(m.normalize(torch.full((1, 1, 2, 2), 0.5)), torch.full((1, 1, 2, 2), 1.0))
    assert "normalize.mean" in m.state_dict()


@pytest.mark.parametrize("name", ["resnet18", "tv-resnet18", "tv-resnet50"])
def test_resnet_relus_are_separate_and_not_inplace(name):
    m = build_model(name, 10, 3, 32)
    relus = [mod for mod in m.modules() if isinstance(mod, nn.ReLU)]
    assert relus and not any(r.inplace for r in relus)
    calls = {}
    hooks = [r.register_forward_hook(lambda mod, i, o: calls.__setitem__(id(mod), calls.get(id(mod), 0) + 1))
             for r in relus]
    m.eval()(torch.rand(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert max(calls.values()) == 1, "a ReLU module is used more than once"


def test_torchvision_weights_load_into_registry_resnet():
    import torchvision

    tv = torchvision.models.resnet18(num_classes=10)
    m = build_model("tv-resnet18", 10, 3, 64, mean=[0, 0, 0], std=[1, 1, 1]).eval()
    sd = {("head." + k[3:]) if k.startswith("fc.") else "body." + k: v for k, v in tv.state_dict().items()}
    sd.update({k: v for k, v in m.state_dict().items() if k.startswith("normalize.")})
    m.load_state_dict(sd)
    x = torch.rand(2, 3, 64, 64)
    assert torch.allclose(m(x), tv.eval()(x), atol=1e-5)


def test_unknown_model_lists_known():
    with pytest.raises(ValueError, match="known models: small-cnn"):
        build_model("vgg-99")


def test_wide_cnn_is_the_small_cnn_at_twice_the_width():
    small, wide = build_model("small-cnn"), build_model("wide-cnn")
    assert (small.feature_dim, wide.feature_dim) == (128, 256)
    convs = [[m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)] for net in (small, wide)]
    assert convs == [[16, 32], [32, 64]]
    assert wide.config()["arch"] == "wide-cnn"
