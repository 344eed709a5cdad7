"""The appendix's checks accept the reference answers and reject the stub and the usual mistakes."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from d2lnets.checks.colour import check_alexnet_sizes, check_grouped_conv_params, check_two_towers

pytestmark = pytest.mark.usefixtures("one_thread")


def _stub(*args, **kwargs):
    raise NotImplementedError


# --- a grouped convolution's parameters ---------------------------------------------------------------

def grouped_conv_params(c_in, c_out, kernel, groups, bias=True):
    return c_in // groups * c_out * kernel * kernel + (c_out if bias else 0)


def test_the_paper_layers_counts_are_torchs():
    """Outside reference: nn.Conv2d of the paper's conv2 (two towers) and the formula."""
    conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
    assert sum(p.numel() for p in conv2.parameters()) == grouped_conv_params(96, 256, 5, 2) == 307_456


def test_grouped_params_check_accepts():
    check_grouped_conv_params(grouped_conv_params)
    check_grouped_conv_params(lambda c_in, c_out, kernel, groups, bias=True:
                              c_in / groups * c_out * kernel ** 2 + bias * c_out)      # floats of whole value
    check_grouped_conv_params(lambda c_in, c_out, kernel, groups, bias=True: sum(
        p.numel() for p in nn.Conv2d(c_in, c_out, kernel, groups=groups, bias=bias).parameters()))


@pytest.mark.parametrize("wrong, message", [
    (_stub, "not written yet"),
    (lambda c_in, c_out, k, g, bias=True: c_in * c_out * k * k + c_out * bias, "ignores groups"),
    (lambda c_in, c_out, k, g, bias=True: c_in * g * c_out * k * k + c_out * bias, "multiplies by groups"),
    (lambda c_in, c_out, k, g, bias=True: c_in // g * (c_out // g) * k * k + c_out * bias, "divides c_out"),
    (lambda c_in, c_out, k, g, bias=True: c_in // g * c_out * k * k + c_out // g * bias, "divides the biases"),
    (lambda c_in, c_out, k, g, bias=True: c_in // g * c_out * k * k, "biases are missing"),
    (lambda c_in, c_out, k, g, bias=True: c_in // g * c_out * k * k + c_out, "bias=False there are no biases"),
    # the bias switch reversed
    (lambda c_in, c_out, k, g, bias=True: c_in // g * c_out * k * k + c_out * (not bias), "biases are missing"),
    (lambda c_in, c_out, k, g, bias=True: c_in // g * c_out * k + c_out * bias, "k \\* k"),
    (lambda c_in, c_out, k, g, bias=True: grouped_conv_params(c_in, c_out, k, g, bias) + 1, "not the number"),
    (lambda c_in, c_out, k, g, bias=True: str(grouped_conv_params(c_in, c_out, k, g, bias)), "must return a number"),
    (lambda c_in, c_out, k, g: grouped_conv_params(c_in, c_out, k, g), "TypeError"),         # no bias argument
    (grouped_conv_params(96, 256, 5, 2), "not a value it returned"),
])
def test_grouped_params_check_rejects(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_grouped_conv_params(wrong)


def test_grouped_params_messages_never_print_the_answer():
    with pytest.raises(AssertionError) as e:
        check_grouped_conv_params(lambda c_in, c_out, k, g, bias=True: 1)
    assert str(grouped_conv_params(96, 256, 5, 2)) not in str(e.value)


# --- the two towers --------------------------------------------------------------------------------------

def two_towers(X, weight, bias, padding):
    half, out = X.shape[1] // 2, weight.shape[0] // 2
    y0 = F.conv2d(X[:, :half], weight[:out], bias[:out], padding=padding)
    y1 = F.conv2d(X[:, half:], weight[out:], bias[out:], padding=padding)
    return torch.cat([y0, y1], dim=1)


def make_towers(x_swap=False, out_swap=False, interleave=False, no_bias=False, pad=True, full_input=False):
    def towers(X, weight, bias, padding):
        half, out = X.shape[1] // 2, weight.shape[0] // 2
        x0, x1 = (X[:, 0::2], X[:, 1::2]) if interleave else (X[:, :half], X[:, half:])
        if x_swap:
            x0, x1 = x1, x0
        if full_input:
            x0 = x1 = X
        b0, b1 = (None, None) if no_bias else (bias[:out], bias[out:])
        p = padding if pad else 0
        y0, y1 = F.conv2d(x0, weight[:out], b0, padding=p), F.conv2d(x1, weight[out:], b1, padding=p)
        return torch.cat([y1, y0] if out_swap else [y0, y1], dim=1)
    return towers


def test_two_towers_check_accepts():
    check_two_towers(two_towers)
    check_two_towers(lambda X, weight, bias, padding: F.conv2d(X, weight, bias, padding=padding, groups=2))


@pytest.mark.parametrize("wrong, message", [
    (_stub, "not written yet"),
    (make_towers(x_swap=True), "wrong half of the input"),
    (make_towers(out_swap=True), "wrong order"),
    (make_towers(x_swap=True, out_swap=True), "two towers are swapped"),
    (make_towers(interleave=True), "contiguous halves"),
    (make_towers(no_bias=True), "biases are missing"),
    (make_towers(pad=False), "pads by padding"),
    (make_towers(full_input=True), "only its own half"),
    (lambda X, weight, bias, padding: two_towers(X, weight, bias, padding)[:, :weight.shape[0] // 2],
     "concatenate"),
    (lambda X, weight, bias, padding: two_towers(X, weight, bias, padding) * 1.01, "differs"),
    (lambda X, weight, bias, padding: two_towers(X, weight, bias, padding).tolist(), "must return a tensor"),
    (lambda X, weight, bias, padding: two_towers(X.mul_(1), weight, bias, padding) if X.add_(1) is X else None,
     "in place"),
])
def test_two_towers_check_rejects(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_two_towers(wrong)


# --- AlexNet's feature-map sizes ---------------------------------------------------------------------------

def alexnet_sizes(size, padding):
    sizes, w = [], size
    for k, s, p in [(11, 4, padding), (3, 2, 0), (5, 1, 2), (3, 2, 0), (3, 1, 1), (3, 1, 1), (3, 1, 1), (3, 2, 0)]:
        w = (w - k + 2 * p) // s + 1
        sizes.append(w)
    return sizes


def make_sizes(rounding=math.floor, plus_one=1, pad_factor=2, later_padding=True, as_float=False):
    def sizes_fn(size, padding):
        sizes, w = [], size
        layers = [(11, 4, padding), (3, 2, 0), (5, 1, 2), (3, 2, 0), (3, 1, 1), (3, 1, 1), (3, 1, 1), (3, 2, 0)]
        for i, (k, s, p) in enumerate(layers):
            p = p if (i == 0 or later_padding) else 0
            w = (w - k + pad_factor * p) / s + plus_one
            w = w if as_float else rounding(w)
            sizes.append(w)
        return sizes
    return sizes_fn


def test_the_papers_sizes_are_torchs():
    """Outside reference: the paper network's own maps, at 227 without padding and at 224 with 2."""
    from d2lnets import models

    for size, padding in ((227, 0), (224, 2)):
        net = models.alexnet(10, 3, variant="paper")
        net.features[0].padding = (padding, padding)
        X, sides = torch.zeros(1, 3, size, size), []
        for layer in net.features:
            X = layer(X)
            if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
                sides.append(X.shape[-1])
        assert sides == alexnet_sizes(size, padding) == [55, 27, 27, 13, 13, 13, 13, 6]
    assert alexnet_sizes(224, 0) == [54, 26, 26, 12, 12, 12, 12, 5]


def test_alexnet_sizes_check_accepts():
    check_alexnet_sizes(alexnet_sizes)
    check_alexnet_sizes(lambda size, padding: torch.tensor(alexnet_sizes(size, padding)))


@pytest.mark.parametrize("wrong, message", [
    (_stub, "not written yet"),
    (make_sizes(rounding=math.ceil), "rounds up"),
    (make_sizes(plus_one=0), r"forgets the \+ 1"),
    (make_sizes(pad_factor=1), "both sides"),
    (make_sizes(later_padding=False), "only conv1's padding"),
    (make_sizes(as_float=True), "fractional|whole numbers"),
    (make_sizes(rounding=float), "whole numbers"),
    (lambda size, padding: alexnet_sizes(size, 0), "wrong from conv1"),                     # padding ignored
    (lambda size, padding: alexnet_sizes(size, padding)[:-1], "list of 8 sizes"),
    (lambda size, padding: alexnet_sizes(size, padding)[-1], "list of 8 sizes"),
    (lambda size: alexnet_sizes(size, 0), "TypeError"),
])
def test_alexnet_sizes_check_rejects(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_alexnet_sizes(wrong)
