"""from_torchvision: same architecture, same weights, same outputs."""
import pytest
import torch
import torchvision
from torch import nn

import d2lnets.models as M
from d2lnets.models import from_torchvision

pytestmark = pytest.mark.usefixtures("one_thread")

TV = torchvision.models
ALL = ["alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
       "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
       "densenet121", "densenet161", "densenet169", "densenet201"]


def _randomise_buffers(net: nn.Module) -> None:
    """Give batch norm non-trivial running statistics, so that eval mode really uses them."""
    g = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)


@pytest.mark.parametrize("name", ALL)
def test_every_architecture_maps(name):
    # on the meta device: the detection and the state_dict mapping, without memory or time
    with torch.device("meta"):
        tv = getattr(TV, name)(weights=None, num_classes=7)
    ours = from_torchvision(tv)
    with torch.device("meta"):
        expected = type(M.get_model(name))
    assert type(ours) is expected
    assert list(ours.state_dict()) == list(tv.state_dict())
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in tv.parameters())
    last = [m for m in ours.modules() if isinstance(m, nn.Linear)][-1]
    assert last.out_features == 7


@pytest.mark.parametrize("name, size", [
    ("alexnet", 64), ("vgg11", 32), ("vgg13_bn", 32), ("resnet18", 64), ("resnet50", 64),
    ("densenet121", 32), ("densenet169", 32),
])
@torch.no_grad()
def test_same_outputs(name, size):
    torch.manual_seed(0)
    tv = getattr(TV, name)(weights=None)
    _randomise_buffers(tv)
    tv.eval()
    ours = from_torchvision(tv)
    assert not ours.training
    for (k, a), b in zip(tv.state_dict().items(), ours.state_dict().values()):
        assert torch.equal(a, b), k
        assert a.data_ptr() != b.data_ptr()  # a copy, not shared storage
    x = torch.randn(2, 3, size, size)
    torch.testing.assert_close(ours(x), tv(x), atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_keeps_mode_dtype_and_width():
    torch.manual_seed(0)
    tv = TV.resnet18(weights=None, num_classes=10).double().train()
    ours = from_torchvision(tv)
    assert ours.training and ours.fc.out_features == 10
    assert all(p.dtype == torch.float64 for p in ours.parameters())
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    tv.eval(), ours.eval()
    torch.testing.assert_close(ours(x), tv(x), atol=1e-10, rtol=0)


@pytest.mark.parametrize("factory, match", [
    (TV.squeezenet1_0, "not a torchvision AlexNet, VGG, ResNet or DenseNet"),
    (TV.resnext50_32x4d, "ResNeXt and wide ResNets are not supported"),
    (TV.wide_resnet50_2, "ResNeXt and wide ResNets are not supported"),
])
def test_unsupported_models(factory, match):
    with torch.device("meta"):
        tv = factory(weights=None)
    with pytest.raises(ValueError, match=match + r".*Supported: alexnet"):
        from_torchvision(tv)


def test_not_a_model():
    with pytest.raises(TypeError, match="expects a torchvision model"):
        from_torchvision("resnet18")
    with pytest.raises(ValueError, match="not a torchvision AlexNet"):
        from_torchvision(nn.Linear(3, 4))
