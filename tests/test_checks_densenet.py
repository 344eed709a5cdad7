"""Chapter 5's checks accept the book's dense block and DenseNet-BC's bottleneck
layer (torchvision's), and reject the catalogued wrong answers."""
import pytest
import torch
from torch import nn
from torchvision.models.densenet import _DenseLayer as TorchvisionDenseLayer

import d2lnets as d2l
from d2lnets.checks.densenet import check_bottleneck_layer, check_dense_block
from d2lnets.checks.hints import named
from d2lnets.models.densenet import _DenseLayer


def conv_block(in_channels, out_channels, conv_first=False):
    if conv_first:
        return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1),
                             nn.BatchNorm2d(out_channels), nn.ReLU())
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                         nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))


def make_dense_block(join="cat", conv_first=False, widths="dense"):
    """The book's DenseBlock, or one with a catalogued mistake."""

    class DenseBlock(nn.Module):
        def __init__(self, num_convs, in_channels, growth_rate):
            super().__init__()
            if widths == "dense":
                ins = [in_channels + i * growth_rate for i in range(num_convs)]
            elif widths == "same":  # every unit takes the block's input width (ResNet-style adding)
                ins = [in_channels] * num_convs
            else:  # a chain: each unit sees only the previous unit's output
                ins = [in_channels] + [growth_rate] * (num_convs - 1)
            self.net = nn.Sequential(*[conv_block(c, growth_rate, conv_first) for c in ins])

        def forward(self, X):
            if join == "last":  # a chain, and only the last output joined to the input
                Y = X
                for blk in self.net:
                    Y = blk(Y)
                return torch.cat((X, Y), dim=1)
            for blk in self.net:
                Y = blk(X)
                if join == "cat":
                    X = torch.cat((X, Y), dim=1)
                elif join == "cat_reversed":
                    X = torch.cat((Y, X), dim=1)
                elif join == "add":
                    X = X + Y
                elif join == "replace":
                    X = Y
            return X

    return DenseBlock


class Stub(nn.Module):
    def __init__(self, num_convs, in_channels, growth_rate):
        raise NotImplementedError


def test_accepts_the_book_blocks():
    check_dense_block(make_dense_block())


@pytest.mark.parametrize("wrong, message, hint", [
    (Stub, "DenseBlock is not written yet", None),
    (make_dense_block(join="add", widths="same"), "not added", 2),
    (make_dense_block(join="replace", widths="chain"), "only the last unit's growth_rate channels", 3),
    (make_dense_block(join="last", widths="chain"), "only one unit's output was concatenated", 3),
    (make_dense_block(conv_first=True), "BN and ReLU before the convolution", 1),
    (make_dense_block(join="cat_reversed"), "new channels come before the old ones", 3),
    (make_dense_block(widths="same"), "fails on a batch", 2),
    (lambda *a: "not a module", "subclass of nn.Module", None),
])
def test_dense_block_check_rejects(wrong, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_dense_block(wrong)
    assert hint is None or named(str(failure.value)) == ("05", "1", hint)


class UsesTheBooksUnits(nn.Module):
    def __init__(self, num_convs, in_channels, growth_rate):
        super().__init__()
        self.net = nn.ModuleList(d2l.models.conv_block(in_channels + i * growth_rate, growth_rate)
                                 for i in range(num_convs))

    def forward(self, X):
        for blk in self.net:
            X = torch.cat((X, blk(X)), dim=1)
        return X


@pytest.mark.parametrize("delegating, call", [
    (d2l.models.DenseBlock, "is d2lnets.models.densenet.DenseBlock"),
    (UsesTheBooksUnits, "calls d2lnets.models.densenet.conv_block"),
])
def test_dense_block_check_rejects_delegation(delegating, call):
    with pytest.raises(AssertionError, match=f"your DenseBlock {call}, which is the thing this exercise"):
        check_dense_block(delegating)


def test_dense_block_check_rejects_a_different_function():
    class NoReLU(make_dense_block()):
        def __init__(self, num_convs, in_channels, growth_rate):
            super().__init__(num_convs, in_channels, growth_rate)
            for blk in self.net:
                blk[1] = nn.Identity()

    with pytest.raises(AssertionError, match="computes a different function"):
        check_dense_block(NoReLU)


# --- DenseNet-BC's bottleneck layer ---------------------------------------------------------------

def make_bottleneck(join="cat", order="pre", width="bn", bias=False, kernels=(1, 3), padding=1,
                    second_relu=True):
    """DenseNet-BC's layer as the chapter's solution writes it, or with a catalogued mistake."""

    class BottleneckLayer(nn.Module):
        def __init__(self, in_channels, growth_rate, bn_size=4):
            super().__init__()
            mid = {"bn": bn_size * growth_rate, "four": 4 * growth_rate, "k": growth_rate,
                   "in": in_channels}[width]
            out = in_channels if join == "add_same" else growth_rate
            k1, k2 = kernels
            conv1 = nn.Conv2d(in_channels, mid, k1, padding=k1 // 2 if padding else 0, bias=bias)
            conv2 = nn.Conv2d(mid, out, k2, padding=k2 // 2 if padding else 0, bias=bias)
            relu2 = nn.ReLU() if second_relu else nn.Identity()
            if order == "pre":
                self.net = nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(), conv1,
                                         nn.BatchNorm2d(mid), relu2, conv2)
            else:  # post-activation: conv, BN, ReLU
                self.net = nn.Sequential(conv1, nn.BatchNorm2d(mid), nn.ReLU(),
                                         conv2, nn.BatchNorm2d(out), relu2)

        def forward(self, X):
            Y = self.net(X)
            if join == "cat":
                return torch.cat((X, Y), dim=1)
            if join == "cat_reversed":
                return torch.cat((Y, X), dim=1)
            if join in ("add", "add_same"):
                return X + Y
            return Y  # join == "none"

    return BottleneckLayer


class TorchvisionAppended(nn.Module):
    """torchvision's DenseNet-BC layer, with its new channels appended to its input."""

    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        self.layer = TorchvisionDenseLayer(in_channels, growth_rate, bn_size, drop_rate=0.0)

    def forward(self, X):
        return torch.cat((X, self.layer(X)), dim=1)


class StubBottleneck(nn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=4):
        raise NotImplementedError


def test_package_dense_layer_is_torchvisions():
    """The check's reference is the package's _DenseLayer: torchvision's, same names and function."""
    ours, theirs = _DenseLayer(12, 6, bn_size=4), TorchvisionDenseLayer(12, 6, 4, drop_rate=0.0)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    torch.manual_seed(0)
    for p in theirs.parameters():
        nn.init.normal_(p)
    ours.load_state_dict(theirs.state_dict())
    X = torch.randn(2, 12, 5, 5)
    torch.testing.assert_close(ours.eval()(X), theirs.eval()(X))


def test_bottleneck_check_accepts_the_solution():
    check_bottleneck_layer(make_bottleneck())


def test_bottleneck_check_rejects_torchvisions_layer():
    with pytest.raises(AssertionError, match="your BottleneckLayer calls torchvision.models.densenet._DenseLayer"):
        check_bottleneck_layer(TorchvisionAppended)


@pytest.mark.parametrize("wrong, message, hint", [
    (StubBottleneck, "BottleneckLayer is not written yet", None),
    (make_bottleneck(join="none"), "only the new channels come out", 3),
    (make_bottleneck(join="add"), "fails on a batch.*concatenates them along the channel dimension", 3),
    (make_bottleneck(join="add_same"), "adding the new features to the input", 3),
    (make_bottleneck(join="cat_reversed"), "new channels come before the old ones", 3),
    (make_bottleneck(order="post"), "BN and ReLU before each convolution", 1),
    (make_bottleneck(width="k"), "only growth_rate wide", 2),
    (make_bottleneck(width="four"), "do not fix it at 4", 2),
    (make_bottleneck(width="in"), "whatever the input's width", 2),
    (make_bottleneck(kernels=(3, 1)), "the 3x3 convolution comes first", 2),
    (make_bottleneck(bias=True), "have biases", 2),
    (make_bottleneck(padding=0), "padding=1", 2),
    (make_bottleneck(second_relu=False), "computes a different function", 1),
    (lambda *a, **k: "not a module", "subclass of nn.Module", None),
    (lambda in_channels, growth_rate: make_bottleneck()(in_channels, growth_rate), "raised TypeError", None),
])
def test_bottleneck_check_rejects(wrong, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_bottleneck_layer(wrong)
    assert hint is None or named(str(failure.value)) == ("05", "2", hint)


def test_bottleneck_check_rejects_a_single_convolution():
    class OneConv(nn.Module):  # the book's unit, no bottleneck
        def __init__(self, in_channels, growth_rate, bn_size=4):
            super().__init__()
            self.net = nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                                     nn.Conv2d(in_channels, growth_rate, 3, padding=1, bias=False))

        def forward(self, X):
            return torch.cat((X, self.net(X)), dim=1)

    with pytest.raises(AssertionError, match="has one convolution"):
        check_bottleneck_layer(OneConv)


def test_bottleneck_messages_never_print_the_answer():
    """A failing check says what is wrong, not the widths the solution uses in the cases it tries."""
    for wrong in (make_bottleneck(width="k"), make_bottleneck(width="four"), make_bottleneck(order="post")):
        with pytest.raises(AssertionError) as info:
            check_bottleneck_layer(wrong)
        assert "BottleneckLayer(6, 4)" in str(info.value) or "bn_size=2" in str(info.value)
        assert "16 channels" not in str(info.value) and "class BottleneckLayer" not in str(info.value)
