"""variant="d2l" builds the book's networks: compared with the book's own code (d2l 1.0.3) --
layer types, parameter shapes and counts, the initialisation, and with weights copied, outputs."""
import copy
import importlib
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import d2lnets as d2l
import d2lnets.models as M
from d2lnets.models import init_cnn

book = pytest.importorskip("d2l.torch")

pytestmark = pytest.mark.usefixtures("one_thread")

BOOK_FIVE = ["lenet", "alexnet", "vgg11", "resnet18", "densenet"]


# --- the book's code, as d2l 1.0.3 defines it (LeNet and Residual come from the d2l package) ----
def book_alexnet(num_classes=10):
    return nn.Sequential(
        nn.LazyConv2d(96, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
        nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
        nn.LazyConv2d(256, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(), nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5), nn.LazyLinear(num_classes))


def book_vgg_block(num_convs, out_channels):
    layers = []
    for _ in range(num_convs):
        layers.append(nn.LazyConv2d(out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def book_vgg(arch=((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)), num_classes=10):
    return nn.Sequential(
        *[book_vgg_block(*b) for b in arch], nn.Flatten(),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5), nn.LazyLinear(num_classes))


def book_resnet18(num_classes=10):
    def block(num_residuals, num_channels, first_block=False):
        return nn.Sequential(*[
            book.Residual(num_channels, use_1x1conv=True, strides=2) if i == 0 and not first_block
            else book.Residual(num_channels) for i in range(num_residuals)])

    return nn.Sequential(
        nn.Sequential(nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3), nn.LazyBatchNorm2d(), nn.ReLU(),
                      nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        block(2, 64, first_block=True), block(2, 128), block(2, 256), block(2, 512),
        nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.LazyLinear(num_classes)))


class BookDenseBlock(nn.Module):
    def __init__(self, num_convs, num_channels):
        super().__init__()
        self.net = nn.Sequential(*[
            nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(num_channels, kernel_size=3, padding=1))
            for _ in range(num_convs)])

    def forward(self, X):
        for blk in self.net:
            X = torch.cat((X, blk(X)), dim=1)
        return X


def book_densenet(num_channels=64, growth_rate=32, arch=(4, 4, 4, 4), num_classes=10):
    net = nn.Sequential(nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3), nn.LazyBatchNorm2d(), nn.ReLU(),
                        nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    for i, num_convs in enumerate(arch):
        net.append(BookDenseBlock(num_convs, growth_rate))
        num_channels += num_convs * growth_rate
        if i != len(arch) - 1:
            num_channels //= 2
            net.append(nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(num_channels, kernel_size=1),
                                     nn.AvgPool2d(kernel_size=2, stride=2)))
    net.append(nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                             nn.LazyLinear(num_classes)))
    return net


# --- helpers ---------------------------------------------------------------------------------
def materialise(net, size, **kwargs):
    """The book's way: one forward pass fixes the lazy shapes, then ``d2l.init_cnn``."""
    with torch.no_grad():
        net(torch.zeros(1, 1, size, size, **kwargs))
    return net.apply(book.init_cnn)


def leaf_types(net, skip=(nn.Flatten, nn.AdaptiveAvgPool2d)):
    return [type(m).__name__ for m in net.modules() if next(m.children(), None) is None and not isinstance(m, skip)]


def param_shapes(net):
    return [tuple(p.shape) for p in net.parameters()]


def randomise_bn(net, seed=1):
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return net


def copy_in_order(src, dst):
    """Copy ``src``'s parameters and buffers into ``dst``, matched by position."""
    a, b = src.state_dict(), dst.state_dict()
    assert [tuple(t.shape) for t in a.values()] == [tuple(t.shape) for t in b.values()]
    dst.load_state_dict(dict(zip(b, a.values())))


def assert_xavier(net):
    """Every conv/linear weight looks drawn from Xavier uniform: within its bound, with its std."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(m.weight)
            bound = math.sqrt(6 / (fan_in + fan_out))
            assert m.weight.abs().max() <= bound
            if m.weight.numel() >= 1000:
                assert m.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1)


# --- one way to ask for the book's networks ---------------------------------------------------
def test_the_book_five_and_nothing_else():
    for name in M.list_models():
        if name in BOOK_FIVE:
            with torch.device("meta"):
                M.get_model(name, variant="d2l")
            continue
        with pytest.raises(ValueError, match=r"no book version.*lenet\(variant=\"d2l\"\), alexnet\(variant=\"d2l\"\), "
                                             r"vgg11\(variant=\"d2l\"\).*resnet18\(variant=\"d2l\"\), "
                                             r"densenet\(variant=\"d2l\"\)"):
            M.get_model(name, variant="d2l")
    with pytest.raises(ValueError, match="vgg11"):
        M.vgg("A", variant="d2l")


def test_init_cnn_is_the_books():
    a = M.lenet()
    b = copy.deepcopy(a)
    torch.manual_seed(3)
    a.apply(book.init_cnn)
    torch.manual_seed(3)
    b.apply(init_cnn)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("name, kwargs", [
    ("lenet", {}), ("alexnet", {}), ("vgg11", dict(width_ratio=4)), ("resnet18", {}), ("densenet", {}),
])
def test_book_initialisation(name, kwargs):
    torch.manual_seed(0)
    net = M.get_model(name, variant="d2l", **kwargs)
    assert_xavier(net)
    # torchvision's initialisation is not Xavier: its ResNet has Kaiming normal convolutions
    if name == "resnet18":
        with pytest.raises(AssertionError):
            assert_xavier(M.resnet18(10, 1))


@torch.no_grad()
def test_lenet():
    torch.manual_seed(0)
    theirs = materialise(book.LeNet().net, 28).eval()
    for variant in ("d2l", "classic"):
        ours = M.lenet(variant=variant).eval()
        assert leaf_types(ours) == leaf_types(theirs)
        assert leaf_types(ours)[:3] == ["Conv2d", "Sigmoid", "AvgPool2d"]
        assert param_shapes(ours) == param_shapes(theirs) and d2l.num_params(ours) == 61_706
        copy_in_order(theirs, ours)
        x = torch.rand(4, 1, 28, 28)
        torch.testing.assert_close(ours(x), theirs(x))
    assert leaf_types(M.lenet(variant="modern"))[:3] == ["Conv2d", "ReLU", "MaxPool2d"]


@torch.no_grad()
def test_alexnet():
    torch.manual_seed(0)
    theirs = materialise(book_alexnet(), 224).eval()
    ours = M.alexnet(variant="d2l").eval()
    assert leaf_types(ours) == leaf_types(theirs)
    assert param_shapes(ours) == param_shapes(theirs) and d2l.num_params(ours) == 46_764_746
    copy_in_order(theirs, ours)
    x = torch.rand(2, 1, 224, 224)
    torch.testing.assert_close(ours(x), theirs(x))


def test_vgg_full_width_layout():
    with torch.device("meta"):
        theirs = book_vgg()
        theirs(torch.zeros(1, 1, 224, 224))
        ours = M.vgg11(variant="d2l")
    assert leaf_types(ours) == leaf_types(theirs)
    assert param_shapes(ours) == param_shapes(theirs) and d2l.num_params(ours) == 128_806_154


@torch.no_grad()
def test_vgg_quarter_width():
    torch.manual_seed(0)
    ratio = 4
    theirs = materialise(book_vgg(arch=((1, 16), (1, 32), (2, 64), (2, 128), (2, 128))), 224).eval()
    ours = M.vgg11(variant="d2l", width_ratio=ratio).eval()
    assert leaf_types(ours) == leaf_types(theirs)
    assert param_shapes(ours) == param_shapes(theirs) and d2l.num_params(ours) == 43_093_322
    copy_in_order(theirs, ours)
    x = torch.rand(1, 1, 224, 224)
    torch.testing.assert_close(ours(x), theirs(x))


@torch.no_grad()
def test_resnet18():
    torch.manual_seed(0)
    theirs = randomise_bn(materialise(book_resnet18(), 96)).eval()
    ours = M.resnet18(variant="d2l").eval()
    assert sorted(param_shapes(ours)) == sorted(param_shapes(theirs)) and d2l.num_params(ours) == 11_178_378
    assert sorted(leaf_types(ours, skip=(nn.Flatten, nn.AdaptiveAvgPool2d, nn.ReLU))) == sorted(
        leaf_types(theirs, skip=(nn.Flatten, nn.AdaptiveAvgPool2d, nn.ReLU)))
    # the same layers under other names: copy them one by one
    stem, *stages, head = theirs
    pairs = [(ours.conv1, stem[0]), (ours.bn1, stem[1]), (ours.fc, head[2])]
    for mine, book_stage in zip((ours.layer1, ours.layer2, ours.layer3, ours.layer4), stages):
        for blk, res in zip(mine, book_stage):
            pairs += [(blk.conv1, res.conv1), (blk.bn1, res.bn1), (blk.conv2, res.conv2), (blk.bn2, res.bn2)]
            assert (blk.downsample is None) == (res.conv3 is None)
            if res.conv3 is not None:
                assert len(blk.downsample) == 1  # the book's projection has no batch norm
                pairs.append((blk.downsample[0], res.conv3))
    for mine, theirs_m in pairs:
        mine.load_state_dict(theirs_m.state_dict())
    x = torch.rand(2, 1, 96, 96)
    torch.testing.assert_close(ours(x), theirs(x))


@torch.no_grad()
def test_densenet():
    torch.manual_seed(0)
    theirs = randomise_bn(materialise(book_densenet(), 96)).eval()
    for ours in (M.densenet(), M.densenet(variant="d2l")):
        ours.eval()
        assert leaf_types(ours, skip=(nn.Flatten, nn.AdaptiveAvgPool2d, nn.ReLU)) == leaf_types(
            theirs, skip=(nn.Flatten, nn.AdaptiveAvgPool2d, nn.ReLU))
        assert param_shapes(ours) == param_shapes(theirs) and d2l.num_params(ours) == 758_226
        copy_in_order(theirs, ours)
        x = torch.rand(2, 1, 96, 96)
        torch.testing.assert_close(ours(x), theirs(x))


# --- the paper's AlexNet drops out where the paper and Caffe do ------------------------------
def test_alexnet_dropout_placement():
    def kinds(net):
        return [type(m).__name__ for m in net.classifier]
    fc_relu_drop = ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    with torch.device("meta"):
        assert kinds(M.alexnet(variant="paper")) == fc_relu_drop
        assert kinds(M.alexnet(variant="d2l")) == fc_relu_drop
        assert kinds(M.alexnet(variant="torchvision")) == [  # torchvision: dropout on fc6's and fc7's inputs
            "Dropout", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Linear"]
        assert d2l.num_params(M.alexnet(variant="paper")) == 60_965_224
    # in training mode the paper's fc6 output is dropped (zeros after the ReLU), then scaled by 2
    torch.manual_seed(0)
    net = M.alexnet(10, 3, variant="paper")
    fc6, relu, drop = net.classifier[:3]
    h = torch.randn(4, fc6.in_features)
    out = drop(relu(fc6(h)))
    kept = out != 0
    torch.testing.assert_close(out[kept], 2 * F.relu(fc6(h))[kept])


# --- chapter 3's CPU-sized VGG ---------------------------------------------------------------
def cpu_vgg(config="A", batch_norm=True, width_ratio=4, hidden=256):  # the chapter's former cell
    features = d2l.models.vgg(config, 10, 1, batch_norm=batch_norm, width_ratio=width_ratio, hidden=hidden).features
    channels = [m for m in features if isinstance(m, nn.Conv2d)][-1].out_channels
    return nn.Sequential(features, nn.Flatten(), nn.Linear(channels, hidden), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(hidden, 10))


@pytest.mark.parametrize("config, make", [
    ("A", lambda: M.vgg11(num_classes=10, in_channels=1, variant="small")),
    ("A", lambda: M.vgg11(variant="small")),
    ("A-LRN", lambda: M.vgg("A-LRN", 10, 1, variant="small")),
])
def test_small_vgg_is_the_chapters(config, make):
    torch.manual_seed(0)
    theirs = cpu_vgg(config)
    torch.manual_seed(0)
    ours = make()
    assert isinstance(ours, M.SmallVGG) and d2l.num_params(ours) == d2l.num_params(theirs) == 613_802
    a, b = theirs.state_dict(), ours.state_dict()
    assert list(a) == list(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert leaf_types(ours) == leaf_types(theirs)
    ours.eval(), theirs.eval()
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x))


def test_small_vgg_inputs():
    net = M.vgg11(variant="small").eval()
    with torch.no_grad():
        assert net(torch.rand(1, 1, 63, 63)).shape == (1, 10)
    with pytest.raises(ValueError, match="at least 32x32"):
        net(torch.rand(1, 1, 31, 31))
    with pytest.raises(ValueError, match="built for 32x32 inputs"):
        net(torch.rand(1, 1, 64, 64))
    with pytest.raises(ValueError, match="built for 1-channel input"):
        net(torch.rand(1, 3, 32, 32))


# --- names and tables written once ------------------------------------------------------------
def test_registry_drives_names():
    names = M.list_models()
    assert len(names) == 20 and set(names) <= set(M.__all__)
    assert all(M.get_model is not None and callable(getattr(M, n)) for n in names)
    convert, densenet, resnet, vgg = (importlib.import_module(f"d2lnets.models.{m}")
                                      for m in ("convert", "densenet", "resnet", "vgg"))
    assert set(convert.SUPPORTED) == set(names) - {"lenet", "densenet"}
    assert resnet.ARCHS["resnet50"][1] == (3, 4, 6, 3) and densenet.ARCHS["densenet161"]["growth_rate"] == 48
    assert vgg.ARCHS["vgg16_bn"] == ("D", True)
    with pytest.raises(ValueError, match="already registered"):
        M.register_model("lenet")(lambda: None)


def test_shapes_apart_from_summary():
    import pathlib

    shapes = importlib.import_module("d2lnets.analysis.shapes")
    summary = importlib.import_module("d2lnets.analysis.summary")
    assert summary.receptive_field is shapes.receptive_field is d2l.receptive_field
    assert summary.conv_output_size is shapes.conv_output_size is d2l.conv_output_size
    assert summary.min_input_size is shapes.min_input_size
    root = pathlib.Path(M.__file__).parent
    for path in root.glob("*.py"):
        assert "from ..summary" not in path.read_text(), path.name


def test_num_params():
    assert d2l.num_params(M.lenet()) == 61_706
    assert d2l.num_params(nn.Linear(3, 2, bias=False)) == 6
    lazy = nn.LazyLinear(4)
    with pytest.raises(ValueError, match="run one batch"):
        d2l.num_params(lazy)
    with pytest.raises((TypeError, ValueError)):
        d2l.num_params([1, 2])
