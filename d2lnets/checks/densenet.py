"""Chapter 5 checks: the dense block and the transition block.

The learner writes the book's ``DenseBlock(num_convs, in_channels, growth_rate)`` -- ``num_convs``
units of BN, ReLU, 3x3 convolution (padding 1), each unit's output concatenated to its input along
the channels -- and ``transition_block(in_channels, out_channels)``: BN, ReLU, 1x1 convolution,
2x2 average pooling with stride 2. The checks compare them with the package's blocks: shapes,
parameter counts and, with the package's weights copied in, outputs; the catalogued mistakes
(adding instead of concatenating, concatenating only the last output, the convolution before
BN-ReLU, no pooling, max instead of average pooling) get messages of their own.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..models.densenet import DenseBlock as _DenseBlock
from ..models.densenet import transition_block as _transition_block
from ..shapes import num_params
from ._util import call, expect, randomize

__all__ = ["check_dense_block", "check_transition_block"]


def _layers(net: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, kind)]


def _computes_like(mine: nn.Module, ref: nn.Module, X: torch.Tensor, name: str) -> bool:
    """With ``ref``'s weights copied in kind by kind (convolutions, batch norms, in registration
    order), does ``mine`` compute what ``ref`` computes on ``X``?"""
    with torch.no_grad():
        for kind in (nn.Conv2d, nn.BatchNorm2d):
            for a, b in zip(_layers(mine, kind), _layers(ref, kind)):
                a.load_state_dict(b.state_dict())
        return torch.allclose(call(mine, name, X), ref(X), atol=1e-5)


def _run(net: nn.Module, X: torch.Tensor, name: str, what: str, hint: str) -> torch.Tensor:
    try:
        with torch.no_grad():
            return call(net, name, X)
    except (RuntimeError, ValueError) as e:
        raise AssertionError(f"{what} fails on a batch of shape {tuple(X.shape)} ({e}): {hint}") from e


# (num_convs, in_channels, growth_rate, height)
_DENSE_CASES = [(2, 3, 10, 8), (4, 16, 8, 5), (3, 8, 8, 6)]


def check_dense_block(DenseBlock: Callable[..., nn.Module]) -> None:
    """Chapter 5: ``DenseBlock(num_convs, in_channels, growth_rate)`` as in the book."""
    expect(DenseBlock, "check_dense_block", "DenseBlock(num_convs, in_channels, growth_rate)", "class")
    for num_convs, in_channels, growth_rate, size in _DENSE_CASES:
        what = f"DenseBlock({num_convs}, {in_channels}, {growth_rate})"
        want_channels = in_channels + num_convs * growth_rate
        block = call(DenseBlock, "DenseBlock", num_convs, in_channels, growth_rate)
        assert isinstance(block, nn.Module), (
            f"{what} returned a {type(block).__name__}; make DenseBlock a subclass of nn.Module")
        X = torch.randn(2, in_channels, size, size, generator=torch.Generator().manual_seed(1))
        block.eval()
        Y = _run(block, X, "DenseBlock.forward", what,
                 f"unit i sees the input and every earlier output, in_channels + i * growth_rate = "
                 f"{', '.join(str(in_channels + i * growth_rate) for i in range(num_convs))} channels, "
                 "and its output is joined to its input with torch.cat((X, Y), dim=1) -- not added")
        assert isinstance(Y, torch.Tensor) and Y.dim() == 4, (
            f"{what} should return a tensor [batch, channels, height, width], got {type(Y).__name__}")
        if Y.shape[1] != want_channels:
            if Y.shape[1] == growth_rate:
                why = ("only the last unit's growth_rate channels come out: the block keeps everything "
                       "it has seen, X = torch.cat((X, Y), dim=1) after every unit (adding or replacing X "
                       "loses the earlier features)")
            elif Y.shape[1] == in_channels + growth_rate:
                why = ("only one unit's output was concatenated to the input: concatenate after every "
                       "unit, so each one sees all earlier outputs")
            else:
                why = "each of the num_convs units adds growth_rate channels to the input's"
            raise AssertionError(f"{what} outputs {Y.shape[1]} channels, expected in_channels + num_convs "
                                 f"* growth_rate = {want_channels}: {why}")
        assert tuple(Y.shape) == (2, want_channels, size, size), (
            f"{what} turns {tuple(X.shape)} into {tuple(Y.shape)}, expected {(2, want_channels, size, size)}: "
            "a dense block keeps the height and width (3x3 convolutions with padding=1, no pooling)")

        if not torch.allclose(Y[:, :in_channels], X):
            if torch.allclose(Y[:, -in_channels:], X):
                raise AssertionError(f"{what}: the new channels come before the old ones; put the input "
                                     "first, torch.cat((X, Y), dim=1), as the book does")
            raise AssertionError(f"{what}: the first {in_channels} output channels should be the input "
                                 "itself, unchanged: a dense block only appends new channels to it")

        ref = randomize(_DenseBlock(num_convs, in_channels, growth_rate))
        bn_sizes = [m.num_features for m in _layers(block, nn.BatchNorm2d)]
        want_bn = [in_channels + i * growth_rate for i in range(num_convs)]
        if bn_sizes == [growth_rate] * num_convs:
            raise AssertionError(
                f"{what}: your BatchNorm2d layers normalise the convolutions' outputs ({growth_rate} "
                f"channels each). DenseNet puts BN and ReLU before the convolution: each unit is "
                "BatchNorm2d(in), ReLU, Conv2d(in, growth_rate, 3, padding=1)")
        assert bn_sizes == want_bn, (
            f"{what} has BatchNorm2d layers over {bn_sizes} channels, expected one per unit over "
            f"{want_bn}: unit i normalises its whole input, in_channels + i * growth_rate channels")
        n_mine, n_ref = num_params(block), num_params(ref)
        assert n_mine == n_ref, (
            f"{what} has {n_mine:,} parameters; the package's has {n_ref:,}. Each unit is "
            "BatchNorm2d(in), ReLU, Conv2d(in, growth_rate, kernel_size=3, padding=1) with a bias")

        if _computes_like(block, ref, X, "DenseBlock.forward"):
            continue
        raise AssertionError(
            f"{what}, with the package block's weights copied in, computes a different function. Each "
            "unit is BN, ReLU, 3x3 conv on everything so far, and X = torch.cat((X, Y), dim=1) after it")


def check_transition_block(transition_block: Callable[[int, int], nn.Module]) -> None:
    """Chapter 5: ``transition_block(in_channels, out_channels)``: BN, ReLU, 1x1 conv, 2x2 avg pool."""
    expect(transition_block, "check_transition_block", "transition_block(in_channels, out_channels)", "factory")
    for in_channels, out_channels, size in [(12, 6, 8), (10, 4, 6)]:
        what = f"transition_block({in_channels}, {out_channels})"
        net = call(transition_block, "transition_block", in_channels, out_channels)
        assert isinstance(net, nn.Module), (
            f"{what} returned a {type(net).__name__}; return an nn.Sequential of the four layers")
        X = torch.randn(2, in_channels, size, size, generator=torch.Generator().manual_seed(2))
        net.eval()
        Y = _run(net, X, "transition_block", what,
                 "BatchNorm2d(in_channels), ReLU, Conv2d(in_channels, out_channels, kernel_size=1), "
                 "AvgPool2d(kernel_size=2, stride=2)")
        half = size // 2
        assert isinstance(Y, torch.Tensor) and Y.dim() == 4, (
            f"{what} should return a tensor [batch, channels, height, width], got {type(Y).__name__}")
        assert Y.shape[1] == out_channels, (
            f"{what} outputs {Y.shape[1]} channels, expected {out_channels}: the 1x1 convolution sets the width")
        if Y.shape[-1] == size:
            raise AssertionError(f"{what} keeps the {size}x{size} size: a transition also halves the "
                                 "height and width with nn.AvgPool2d(kernel_size=2, stride=2) -- "
                                 "is the pooling missing?")
        assert tuple(Y.shape) == (2, out_channels, half, half), (
            f"{what} turns {tuple(X.shape)} into {tuple(Y.shape)}, expected {(2, out_channels, half, half)}: "
            "a 1x1 convolution keeps the size, then a 2x2 average pool with stride 2 halves it")

        ref = randomize(_transition_block(in_channels, out_channels))
        bn_sizes = [m.num_features for m in _layers(net, nn.BatchNorm2d)]
        if bn_sizes == [out_channels]:
            raise AssertionError(f"{what}: your BatchNorm2d normalises the convolution's output; the "
                                 "transition starts with BN and ReLU on its input: "
                                 "BatchNorm2d(in_channels), ReLU, then the 1x1 convolution")
        n_mine, n_ref = num_params(net), num_params(ref)
        assert n_mine == n_ref, (
            f"{what} has {n_mine:,} parameters; the package's has {n_ref:,}: BatchNorm2d(in_channels) and "
            "a 1x1 Conv2d(in_channels, out_channels) with a bias, nothing else")

        if _computes_like(net, ref, X, "transition_block"):
            continue
        if any(isinstance(m, nn.MaxPool2d) for m in net.modules()):
            raise AssertionError(f"{what} uses max pooling; DenseNet's transition averages: "
                                 "nn.AvgPool2d(kernel_size=2, stride=2)")
        raise AssertionError(f"{what}, with the package's weights copied in, computes a different "
                             "function: the order is BN, ReLU, 1x1 conv, 2x2 average pool")
