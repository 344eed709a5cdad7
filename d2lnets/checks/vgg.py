"""Chapter 3 checks: the receptive field of a conv/pool stack and the VGG block by hand."""
from __future__ import annotations

import numbers
from collections.abc import Callable

import torch
from torch import nn

from ..analysis import shapes
from ..analysis.shapes import num_params
from ..models.vgg import make_features
from ..models.vgg import vgg_block as _vgg_block
from ._forbid import forbids, guard
from ._util import call, expect
from .hints import see

__all__ = ["check_receptive_field", "check_vgg_block"]


# ----------------------------------------------------------------------------------------------
# receptive field
# ----------------------------------------------------------------------------------------------
# Plausible wrong answers, each with the hint the check gives when the learner's numbers match it.
def _rf_ignoring_stride(layers) -> int:
    f = 1
    for k, _ in layers:
        f += k - 1
    return f


def _rf_sum_of_kernels(layers) -> int:
    return sum(k for k, _ in layers)


def _rf_input_to_output(layers) -> int:
    f = 1
    for k, s in layers:
        f = (f - 1) * s + k
    return f


def _rf_adding_k(layers) -> int:
    f = 1
    for k, s in reversed(layers):
        f = f * s + k
    return f


def _rf_starting_at_zero(layers) -> int:
    f = 0
    for k, s in reversed(layers):
        f = (f - 1) * s + k
    return f


_RF_HINTS = [
    (_rf_ignoring_stride, "your answers ignore the strides: they are right for stride-1 stacks only. "
                          "A layer with stride S spreads the pixels the layers above it see S times "
                          "further apart: F(i) = (F(i+1) - 1) * S(i) + K(i)", 2),
    (_rf_sum_of_kernels, "you add up the kernel sizes. Two 3x3 convolutions see 5x5 pixels, not 6x6: "
                         "neighbouring windows overlap, so each layer adds K - 1 pixels (times the "
                         "strides below it), not K", 2),
    (_rf_input_to_output, "you walk the layers from the input to the output. The recursion starts at "
                          "ONE output pixel (F = 1) and goes back towards the input: iterate over "
                          "reversed(layers)", 1),
    (_rf_adding_k, "off by one: F(i) = (F(i+1) - 1) * S(i) + K(i). The window of K pixels covers the "
                   "first of the F(i+1) positions; the other F(i+1) - 1 positions each add S pixels", 2),
    (_rf_starting_at_zero, "off by one: start from a single output pixel, F = 1 (not 0)", 1),
]

# (kernel, stride) lists from input to output, with their receptive fields.
_RF_CASES = [
    ([(3, 1)], 3),
    ([(3, 1), (3, 1)], 5),
    ([(3, 1), (3, 1), (3, 1)], 7),
    ([(7, 1)], 7),
    ([(3, 1), (2, 2)], 4),
    ([(2, 2), (3, 1)], 6),
    ([(3, 1), (2, 2), (3, 1), (2, 2)], 10),  # VGG-A's first two blocks
    ([(5, 1), (2, 2), (5, 1), (2, 2)], 16),  # LeNet's encoder
    ([(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)], 195),  # AlexNet's features
]


@forbids(shapes, "d2lnets.viz.receptive",
         instead="start from one output pixel and walk back through the layers with F = (F - 1) * S + K")
def check_receptive_field(receptive_field: Callable[[list[tuple[int, int]]], int]) -> None:
    """Chapter 3: the receptive field of a stack of (kernel, stride) layers, input to output."""
    expect(receptive_field, "check_receptive_field", "receptive_field(layers)", "function")
    got = {}
    for layers, _ in _RF_CASES:
        value = call(receptive_field, "receptive_field", list(layers))
        assert isinstance(value, numbers.Integral) and not isinstance(value, bool), (
            f"receptive_field({layers}) returned {value!r} ({type(value).__name__}); a receptive field "
            "is a whole number of pixels: work with integers (int, //)")
        got[tuple(layers)] = value
    wrong = [(tuple(layers), got[tuple(layers)], want) for layers, want in _RF_CASES
             if got[tuple(layers)] != want]
    if not wrong:
        return
    for rule, hint, n in _RF_HINTS:
        if all(got[tuple(layers)] == rule(layers) for layers, _ in _RF_CASES):
            layers, value, want = wrong[0]
            raise AssertionError(f"receptive_field({list(layers)}) returned {value}, expected {want}: {hint}"
                                 + see("check_receptive_field", n))
    layers, value, want = wrong[0]
    raise AssertionError(
        f"receptive_field({list(layers)}) returned {value}, expected {want}. Start from one output "
        "pixel, F = 1, and go back through the layers from the last to the first with "
        "F = (F - 1) * S + K" + see("check_receptive_field", 2))


# ----------------------------------------------------------------------------------------------
# VGG block
# ----------------------------------------------------------------------------------------------
def _leaves(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if next(m.children(), None) is None]


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


# (num_convs, in_channels, out_channels)
_BLOCK_CASES = [(1, 1, 16), (2, 16, 32), (3, 4, 8)]


@forbids(_vgg_block, make_features, "torchvision.models.vgg.make_layers",
         instead="build it from nn.Conv2d, nn.ReLU and nn.MaxPool2d layers in a loop")
def check_vgg_block(vgg_block: Callable[..., nn.Module]) -> None:
    """Chapter 3: ``vgg_block(num_convs, in_channels, out_channels)``: ``num_convs`` times a 3x3
    convolution (padding 1) and a ReLU, then one 2x2 max pooling with stride 2."""
    expect(vgg_block, "check_vgg_block", "vgg_block(num_convs, in_channels, out_channels)", "factory")
    for n, c_in, c_out in _BLOCK_CASES:
        args = f"vgg_block(num_convs={n}, in_channels={c_in}, out_channels={c_out})"
        blk = call(vgg_block, "vgg_block", num_convs=n, in_channels=c_in, out_channels=c_out)
        assert isinstance(blk, nn.Module), (
            f"{args} returned {type(blk).__name__}; return the layers as an nn.Sequential")
        leaves = _leaves(blk)
        convs = [m for m in leaves if isinstance(m, nn.Conv2d)]
        relus = [m for m in leaves if isinstance(m, nn.ReLU)]
        pools = [m for m in leaves if isinstance(m, nn.MaxPool2d)]
        assert len(convs) == n, (f"{args} has {len(convs)} nn.Conv2d layers; it needs num_convs = {n}"
                                 + see("check_vgg_block", 2))
        for i, conv in enumerate(convs):
            assert _pair(conv.kernel_size) == (3, 3), (
                f"{args}: convolution {i} has kernel_size={conv.kernel_size}; VGG uses only 3x3 kernels"
                + see("check_vgg_block", 2))
            assert _pair(conv.padding) == (1, 1) and _pair(conv.stride) == (1, 1), (
                f"{args}: convolution {i} has padding={conv.padding}, stride={conv.stride}, so it "
                "shrinks the feature map. Use padding=1 (and stride 1): in a VGG block the "
                "convolutions keep the height and width, and only the pooling at the end halves them"
                + see("check_vgg_block", 2))
        want_in = [c_in] + [c_out] * (n - 1)
        got_in = [c.in_channels for c in convs]
        assert got_in == want_in and all(c.out_channels == c_out for c in convs), (
            f"{args}: the convolutions map channels {[(c.in_channels, c.out_channels) for c in convs]}; "
            f"expected {list(zip(want_in, [c_out] * n))}: the first takes in_channels, each later one "
            "takes the out_channels of the one before" + see("check_vgg_block", 2))
        assert relus, (
            f"{args} has no nn.ReLU: without a non-linearity between them, stacked convolutions "
            "collapse into a single linear map. Put an nn.ReLU() after every convolution" + see("check_vgg_block", 2))
        assert len(relus) == n, (f"{args} has {len(relus)} nn.ReLU layers; put one after each of the {n} "
                                 "convolutions" + see("check_vgg_block", 2))
        assert pools, (
            f"{args} has no nn.MaxPool2d: the block must end in a 2x2 max pooling with stride 2 that "
            "halves the height and width" + see("check_vgg_block", 3))
        assert len(pools) == 1, (
            f"{args} has {len(pools)} max poolings: pooling after every convolution halves the map "
            f"{len(pools)} times. A VGG block pools once, at its end, after all its convolutions"
            + see("check_vgg_block", 3))
        pool = pools[0]
        assert _pair(pool.kernel_size) == (2, 2) and _pair(pool.stride or pool.kernel_size) == (2, 2), (
            f"{args}: the pooling has kernel_size={pool.kernel_size}, stride={pool.stride}; VGG uses "
            "nn.MaxPool2d(kernel_size=2, stride=2)" + see("check_vgg_block", 3))
        kinds = [type(m).__name__ for m in leaves]
        want_kinds = ["Conv2d", "ReLU"] * n + ["MaxPool2d"]
        assert kinds == want_kinds, (
            f"{args} has the layers {kinds}; expected {want_kinds}: each convolution followed by its "
            "ReLU, and the pooling last" + see("check_vgg_block", 2))
        X = torch.randn(2, c_in, 16, 16)
        try:
            with torch.no_grad(), guard("vgg_block"):
                Y = blk(X)
        except RuntimeError as e:
            raise AssertionError(f"{args} fails on an input of shape {tuple(X.shape)}: {e}") from e
        assert tuple(Y.shape) == (2, c_out, 8, 8), (
            f"{args} turns an input of shape {tuple(X.shape)} into {tuple(Y.shape)}; expected "
            f"{(2, c_out, 8, 8)}: the channels become out_channels and the pooling halves 16x16 to 8x8")
        n_params = num_params(blk)
        want = (9 * c_in + 1) * c_out + (n - 1) * (9 * c_out + 1) * c_out
        assert n_params == want, (
            f"{args} has {n_params:,} parameters, expected {want:,}: each 3x3 convolution has "
            "9 * in * out weights and out biases" + see("check_vgg_block", 2))
