"""The model zoo: shapes, gradients, exact parameter counts, the book's models, clear errors."""
import types

import pytest
import torch
import torchvision
from torch import nn

import d2lnets.models as M
from d2lnets import num_params as n_params
from d2lnets.models.layers import LocalResponseNorm

pytestmark = pytest.mark.usefixtures("one_thread")


def on_meta(factory, *args, **kwargs) -> nn.Module:
    """Build without allocating or initialising weights: enough to count parameters."""
    with torch.device("meta"):
        return factory(*args, **kwargs)


# every factory with its default arguments
DEFAULT_PARAMS = {
    "alexnet": 61_100_840, "lenet": 61_706, "densenet": 758_226,
    "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544, "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840, "vgg13_bn": 133_053_736, "vgg16_bn": 138_365_992, "vgg19_bn": 143_678_248,
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808,
    "densenet121": 7_978_856, "densenet161": 28_681_000, "densenet169": 14_149_480, "densenet201": 20_013_928,
}
# a small input each default model accepts: (channels, size)
SMALL_INPUT = {"alexnet": (3, 63), "lenet": (1, 28), "densenet": (1, 32)}


def small_input(name):
    if name in SMALL_INPUT:
        return SMALL_INPUT[name]
    return 3, 32  # VGG needs 32 (five 2x2 pools), DenseNet-BC 29, ResNet anything


def test_list_models():
    names = M.list_models()
    assert names == sorted(names) == sorted(DEFAULT_PARAMS)
    assert {"alexnet", "lenet", "resnet18", "vgg19_bn", "densenet121"} <= set(names)
    with pytest.raises(ValueError, match="unknown model 'resnet19'.*resnet18"):
        M.get_model("resnet19")


@pytest.mark.parametrize("name", M.list_models())
def test_default_model_forward_backward(name):
    torch.manual_seed(0)
    net = M.get_model(name)
    assert n_params(net) == DEFAULT_PARAMS[name]
    c, s = small_input(name)
    x = torch.randn(2, c, s, s)
    y = net(x)
    num_classes = 10 if name in ("lenet", "densenet") else 1000
    assert y.shape == (2, num_classes)
    assert torch.isfinite(y).all()
    y.square().mean().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_get_model_passes_arguments():
    net = M.get_model("resnet18", num_classes=10, in_channels=1)
    assert net.fc.out_features == 10 and net.conv1.in_channels == 1


# ---------------------------------------------------------------------------------------------
# torchvision's architectures
# ---------------------------------------------------------------------------------------------
TV_NAMES = [n for n in M.list_models() if isinstance(getattr(torchvision.models, n, None), types.FunctionType)]


def test_every_torchvision_name_is_covered():
    assert len(TV_NAMES) == 18


@pytest.mark.parametrize("name", TV_NAMES)
def test_same_architecture_as_torchvision(name):
    ours = on_meta(M.get_model, name)
    theirs = on_meta(getattr(torchvision.models, name), weights=None)
    assert n_params(ours) == n_params(theirs)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    assert [t.shape for t in ours_sd.values()] == [t.shape for t in theirs_sd.values()]
    # the same layer types in the same order
    def leaf(net):
        return [type(m).__name__ for m in net.modules() if next(m.children(), None) is None]
    assert leaf(ours) == leaf(theirs)
    # and other widths carry over like torchvision's num_classes
    assert n_params(on_meta(M.get_model, name, num_classes=10)) == n_params(
        on_meta(getattr(torchvision.models, name), weights=None, num_classes=10))


def test_torchvision_style_initialisation():
    torch.manual_seed(0)
    net = M.resnet50()
    assert all((m.weight == 1).all() and (m.bias == 0).all() for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    std = net.layer1[0].conv2.weight.std().item()  # kaiming fan_out: sqrt(2 / (64 * 9))
    assert std == pytest.approx((2 / (64 * 9)) ** 0.5, rel=0.05)
    net = M.resnet18(zero_init_residual=True)
    assert all((b.bn2.weight == 0).all() for layer in (net.layer1, net.layer4) for b in layer)


# ---------------------------------------------------------------------------------------------
# parameter counts of the papers and the book
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("factory, args, kwargs, expected", [
    (M.alexnet, (), dict(variant="paper"), 60_965_224),
    (M.alexnet, (), dict(variant="paper", groups=1), 62_378_344),
    (M.alexnet, (102,), dict(variant="paper", groups=1), 58_699_238),
    (M.alexnet, (), dict(variant="paper", lrn=False, overlap=False, dropout=0.0), 60_965_224),
    (M.alexnet, (), dict(variant="torchvision"), 61_100_840),
    (M.alexnet, (10, 1), dict(variant="d2l"), 46_764_746),
    (M.alexnet, (10, 1), dict(variant="small"), 7_507_050),
    (M.alexnet, (), dict(variant="d2l"), 46_764_746),
    (M.alexnet, (), dict(variant="small"), 7_507_050),
    (M.alexnet, (5,), dict(variant="half"), 14_591_685),
    (M.alexnet, (102,), dict(variant="paper"), 57_286_118),
    (M.vgg, ("A",), {}, 132_863_336),
    (M.vgg, ("A-LRN",), {}, 132_863_336),
    (M.vgg, ("B",), {}, 133_047_848),
    (M.vgg, ("C",), {}, 133_638_952),
    (M.vgg, ("D",), {}, 138_357_544),
    (M.vgg, ("E",), {}, 143_667_240),
    (M.vgg, ("A", 10, 1), dict(width_ratio=4), 43_093_322),
    (M.vgg11, (), dict(variant="d2l", width_ratio=4), 43_093_322),
    (M.vgg11, (10, 1), dict(variant="d2l"), 128_806_154),
    (M.vgg11, (10, 1), dict(variant="small"), 613_802),
    (M.vgg11_bn, (), dict(variant="small"), 613_802),
    (M.vgg, ("A-LRN",), dict(variant="small"), 613_802),
    (M.resnet18, (10, 1), dict(variant="d2l"), 11_178_378),
    (M.resnet18, (), dict(variant="d2l"), 11_178_378),
    (M.densenet, (), {}, 758_226),
    (M.densenet, (), dict(variant="d2l"), 758_226),
    (M.densenet, (10, 1), {}, 758_226),
    (M.lenet, (), {}, 61_706),
    (M.lenet, (), dict(variant="d2l"), 61_706),
    (M.lenet, (), dict(variant="modern"), 61_706),
])
def test_parameter_counts(factory, args, kwargs, expected):
    assert n_params(on_meta(factory, *args, **kwargs)) == expected


def test_vgg_configuration_c_uses_1x1_convolutions():
    assert M.cfgs["C"].count((256, 1)) == 1 and M.cfgs["C"].count((512, 1)) == 2
    net = on_meta(M.vgg, "C")
    kernels = [m.kernel_size for m in net.features if isinstance(m, nn.Conv2d)]
    assert kernels.count((1, 1)) == 3 and len(kernels) == 13
    # C = B + three 1x1 convolutions (256*256 + 256 + 2 * (512*512 + 512) weights and biases)
    assert n_params(net) - n_params(on_meta(M.vgg, "B")) == 65_792 + 2 * 262_656
    lrn = [m for m in on_meta(M.vgg, "A-LRN").features if isinstance(m, LocalResponseNorm)]
    assert len(lrn) == 1 and lrn[0].convention == "paper" and lrn[0].k == 2


# --- the book's code (d2l 1.0.3), with lazy layers, as reference ------------------------------
def _lazy_count(net: nn.Module, size: int) -> list:
    with torch.no_grad():
        net(torch.zeros(1, 1, size, size))
    return sorted(tuple(p.shape) for p in net.parameters())


def _shapes(net: nn.Module) -> list:
    return sorted(tuple(p.shape) for p in net.parameters())


def test_book_resnet18():
    from d2l import torch as d2l

    def block(num_residuals, num_channels, first_block=False):
        return nn.Sequential(*[
            d2l.Residual(num_channels, use_1x1conv=True, strides=2) if i == 0 and not first_block
            else d2l.Residual(num_channels) for i in range(num_residuals)])

    book = nn.Sequential(
        nn.Sequential(nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3), nn.LazyBatchNorm2d(), nn.ReLU(),
                      nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        block(2, 64, first_block=True), block(2, 128), block(2, 256), block(2, 512),
        nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.LazyLinear(10)))
    book_shapes = _lazy_count(book, 96)
    assert sum(torch.Size(s).numel() for s in book_shapes) == 11_178_378
    ours = M.resnet18(10, 1, variant="d2l")
    assert _shapes(ours) == book_shapes
    assert ours(torch.randn(2, 1, 96, 96)).shape == (2, 10)


def test_book_densenet():
    def conv_block(num_channels):
        return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(num_channels, kernel_size=3, padding=1))

    class DenseBlock(nn.Module):
        def __init__(self, num_convs, num_channels):
            super().__init__()
            self.net = nn.Sequential(*[conv_block(num_channels) for _ in range(num_convs)])

        def forward(self, X):
            for blk in self.net:
                X = torch.cat((X, blk(X)), dim=1)
            return X

    def transition_block(num_channels):
        return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(num_channels, kernel_size=1),
                             nn.AvgPool2d(kernel_size=2, stride=2))

    book = nn.Sequential(nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3), nn.LazyBatchNorm2d(), nn.ReLU(),
                         nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    num_channels, growth_rate, arch = 64, 32, (4, 4, 4, 4)
    for i, num_convs in enumerate(arch):
        book.append(DenseBlock(num_convs, growth_rate))
        num_channels += num_convs * growth_rate
        if i != len(arch) - 1:
            num_channels //= 2
            book.append(transition_block(num_channels))
    book.append(nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                              nn.LazyLinear(10)))
    book_shapes = _lazy_count(book, 96)
    assert sum(torch.Size(s).numel() for s in book_shapes) == 758_226
    ours = M.densenet()
    assert _shapes(ours) == book_shapes
    assert ours(torch.randn(2, 1, 96, 96)).shape == (2, 10)


def test_book_alexnet_and_vgg_layouts():
    book_alexnet = nn.Sequential(
        nn.LazyConv2d(96, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
        nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
        nn.LazyConv2d(256, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(), nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5), nn.LazyLinear(10))
    ours = M.alexnet(10, 1, variant="d2l")
    # same layers in the same order (our flatten is in forward, after an adaptive pool that is a
    # no-op at 224 px)
    assert _lazy_count(book_alexnet, 224) == _shapes(ours)
    book_vgg = nn.Sequential(*[M.vgg_block(n, c) for n, c in ((1, 16), (1, 32), (2, 64), (2, 128), (2, 128))],
                             nn.Flatten(), nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5),
                             nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5), nn.LazyLinear(10))
    assert _lazy_count(book_vgg, 224) == _shapes(M.vgg("A", 10, 1, width_ratio=4))


# ---------------------------------------------------------------------------------------------
# AlexNet variants and options
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant, channels, size, feature_shape", [
    ("paper", 3, 227, (256, 6, 6)),
    ("d2l", 1, 224, (256, 5, 5)),
    ("small", 1, 32, (128, 3, 3)),
    ("half", 3, 224, (128, 6, 6)),
])
@torch.no_grad()
def test_alexnet_design_resolutions(variant, channels, size, feature_shape):
    net = M.alexnet(10, channels, variant=variant).eval()
    x = torch.randn(1, channels, size, size)
    assert net.features(x).shape[1:] == feature_shape  # the adaptive pool has nothing to do
    assert net(x).shape == (1, 10)
    if variant == "paper":  # non-overlapping pooling gives the same map sizes
        assert M.alexnet(10, 3, variant="paper", overlap=False).features(x).shape[1:] == feature_shape


@pytest.mark.parametrize("size", [15, 28, 32, 64, 96])
def test_alexnet_small_handles_small_inputs(size):
    net = M.alexnet(10, 1, variant="small")
    out = net(torch.randn(2, 1, size, size))
    assert out.shape == (2, 10)
    out.sum().backward()


def test_alexnet_options():
    paper = M.alexnet(variant="paper")
    lrns = [m for m in paper.features if isinstance(m, LocalResponseNorm)]
    assert len(lrns) == 2 and all((m.size, m.k, m.alpha, m.beta, m.convention, m.groups) ==
                                  (5, 2, 1e-4, 0.75, "paper", 2) for m in lrns)  # LRN within each tower
    # LRN after the ReLU and before the pool, for conv1 and conv2
    kinds = [type(m).__name__ for m in paper.features]
    assert kinds[:8] == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"] * 2
    assert [m.groups for m in paper.features if isinstance(m, nn.Conv2d)] == [1, 2, 1, 2, 2]
    small = M.alexnet(10, 1, variant="small", lrn=True, dropout=0.0, overlap=False)
    assert sum(isinstance(m, LocalResponseNorm) for m in small.features) == 2
    assert all(m.p == 0.0 for m in small.classifier if isinstance(m, nn.Dropout))
    assert all(m.kernel_size == 2 for m in small.features if isinstance(m, nn.MaxPool2d))
    assert not any(isinstance(m, LocalResponseNorm) for m in M.alexnet(variant="d2l").modules())
    with pytest.raises(ValueError, match="variant must be one of"):
        M.alexnet(variant="caffe")


# ---------------------------------------------------------------------------------------------
# the book's building blocks
# ---------------------------------------------------------------------------------------------
def test_vgg_block_lazy_and_explicit():
    x = torch.randn(2, 3, 16, 16)
    lazy = M.vgg_block(2, 8)
    assert lazy(x).shape == (2, 8, 8, 8)
    explicit = M.vgg_block(2, 8, in_channels=3)
    assert n_params(explicit) == (3 * 9 * 8 + 8) + (8 * 9 * 8 + 8) == n_params(lazy)
    assert [type(m).__name__ for m in explicit] == ["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"]


def test_residual_block():
    x = torch.randn(2, 3, 6, 6)
    assert M.Residual(3)(x).shape == (2, 3, 6, 6)
    blk = M.Residual(6, use_1x1conv=True, strides=2)
    assert blk(x).shape == (2, 6, 3, 3)
    explicit = M.Residual(6, use_1x1conv=True, strides=2, in_channels=3)
    assert _shapes(explicit) == _shapes(blk)
    with pytest.raises(RuntimeError):
        M.Residual(6, in_channels=3)(x)  # no projection: shapes cannot be added


def test_dense_blocks():
    x = torch.randn(2, 3, 8, 8)
    blk = M.DenseBlock(2, 3, 10)
    assert blk.out_channels == 23 and blk(x).shape == (2, 23, 8, 8)
    assert M.transition_block(23, 10)(blk(x)).shape == (2, 10, 4, 4)
    cb = M.conv_block(3, 10)
    assert cb(x).shape == (2, 10, 8, 8) and [type(m).__name__ for m in cb] == ["BatchNorm2d", "ReLU", "Conv2d"]


# ---------------------------------------------------------------------------------------------
# errors a learner can act on
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("factory, kwargs, channels, size", [
    (M.alexnet, {}, 3, 63),
    (M.alexnet, dict(variant="paper"), 3, 67),
    (M.alexnet, dict(num_classes=10, in_channels=1, variant="d2l"), 1, 65),
    (M.alexnet, dict(num_classes=10, in_channels=1, variant="small"), 1, 15),
    (M.alexnet, dict(num_classes=5, variant="half"), 3, 63),
    (M.vgg11, dict(hidden=64), 3, 32),  # a small classifier: the error comes from the features
    (M.densenet121, {}, 3, 29),
    (M.densenet, {}, 1, 29),
])
def test_too_small_input(factory, kwargs, channels, size):
    net = factory(**kwargs).eval()
    with torch.no_grad():
        assert net(torch.randn(1, channels, size, size)).isfinite().all()  # the smallest that works
        with pytest.raises(ValueError, match=f"needs inputs of at least {size}x{size} pixels but got "
                                             f"{size - 1}x{size - 1}"):
            net(torch.randn(1, channels, size - 1, size - 1))


@pytest.mark.parametrize("factory, kwargs", [
    (M.alexnet, dict(variant="small", in_channels=3)), (M.alexnet, dict(variant="paper")), (M.vgg11, dict(hidden=64)),
    (M.resnet18, {}), (M.resnet18, dict(variant="d2l", in_channels=3)), (M.densenet121, {}),
    (M.lenet, dict(in_channels=3)),
])
def test_wrong_channel_count(factory, kwargs):
    net = factory(**kwargs)
    with pytest.raises(ValueError, match=r"built for 3-channel input but got 1 channels.*in_channels=1"):
        net(torch.randn(1, 1, 64 if factory is not M.lenet else 28, 64 if factory is not M.lenet else 28))
    with pytest.raises(ValueError, match=r"expects a batch of images shaped \[batch, 3, height, width\]"):
        net(torch.randn(3, 64, 64))


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown VGG configuration 'F'"):
        M.vgg("F")
    with pytest.raises(ValueError, match="configuration entries"):
        M.vgg([64, "X"])
    with pytest.raises(ValueError, match="variant must be one of"):
        M.resnet18(variant="paper")
