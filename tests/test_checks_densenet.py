"""Chapter 5's checks accept the book's dense and transition blocks and reject the catalogued wrong answers."""
import pytest
import torch
from torch import nn

from d2lnets.checks.densenet import check_dense_block, check_transition_block


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


def book_transition(in_channels, out_channels):
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                         nn.Conv2d(in_channels, out_channels, kernel_size=1),
                         nn.AvgPool2d(kernel_size=2, stride=2))


class Stub(nn.Module):
    def __init__(self, num_convs, in_channels, growth_rate):
        raise NotImplementedError


def stub_transition(in_channels, out_channels):
    raise NotImplementedError


def test_accepts_the_book_blocks():
    check_dense_block(make_dense_block())
    check_transition_block(book_transition)


@pytest.mark.parametrize("wrong, message", [
    (Stub, "DenseBlock is not written yet"),
    (make_dense_block(join="add", widths="same"), "not added"),
    (make_dense_block(join="replace", widths="chain"), "only the last unit's growth_rate channels"),
    (make_dense_block(join="last", widths="chain"), "only one unit's output was concatenated"),
    (make_dense_block(conv_first=True), "BN and ReLU before the convolution"),
    (make_dense_block(join="cat_reversed"), "new channels come before the old ones"),
    (make_dense_block(widths="same"), "fails on a batch"),
    (lambda *a: "not a module", "subclass of nn.Module"),
])
def test_dense_block_check_rejects(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_dense_block(wrong)


def test_dense_block_check_rejects_a_different_function():
    class NoReLU(make_dense_block()):
        def __init__(self, num_convs, in_channels, growth_rate):
            super().__init__(num_convs, in_channels, growth_rate)
            for blk in self.net:
                blk[1] = nn.Identity()

    with pytest.raises(AssertionError, match="computes a different function"):
        check_dense_block(NoReLU)


@pytest.mark.parametrize("wrong, message", [
    (stub_transition, "transition_block is not written yet"),
    (lambda i, o: nn.Sequential(*list(book_transition(i, o))[:-1]), "is the pooling missing"),
    (lambda i, o: nn.Sequential(*list(book_transition(i, o))[:-1], nn.MaxPool2d(2, 2)), "uses max pooling"),
    (lambda i, o: nn.Sequential(nn.Conv2d(i, o, 1), nn.BatchNorm2d(o), nn.ReLU(), nn.AvgPool2d(2, 2)),
     "normalises the convolution's output"),
    (lambda i, o: nn.Sequential(nn.BatchNorm2d(i), nn.ReLU(), nn.Conv2d(i, o, 1, bias=False), nn.AvgPool2d(2, 2)),
     "parameters; the package's has"),
    (lambda i, o: nn.Sequential(nn.BatchNorm2d(i), nn.ReLU(), nn.Conv2d(i, i, 1), nn.AvgPool2d(2, 2)),
     "channels, expected"),
    (lambda i, o: nn.Sequential(nn.BatchNorm2d(i), nn.Conv2d(i, o, 1), nn.AvgPool2d(2, 2)),
     "different function"),
    (lambda i, o: nn.Sequential(nn.BatchNorm2d(i), nn.ReLU(), nn.Conv2d(i, o, 1), nn.AvgPool2d(4, 4)),
     "expected"),
    (lambda i, o: "not a module", "nn.Sequential"),
])
def test_transition_check_rejects(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_transition_block(wrong)
