"""Chapter 5 checks: the dense block and DenseNet-BC's bottleneck layer.

The learner writes the book's ``DenseBlock(num_convs, in_channels, growth_rate)`` -- ``num_convs``
units of BN, ReLU, 3x3 convolution (padding 1), each unit's output concatenated to its input along
the channels -- and DenseNet-BC's ``BottleneckLayer(in_channels, growth_rate, bn_size=4)``: BN,
ReLU, 1x1 convolution to ``bn_size * growth_rate`` channels, BN, ReLU, 3x3 convolution to
``growth_rate`` channels (no biases), its output concatenated to its input. The checks compare them
with the package's blocks (whose bottleneck layer is torchvision's ``_DenseLayer``, tested):
shapes, parameter counts and, with the package's weights copied in, outputs; the catalogued
mistakes (adding instead of concatenating, concatenating only the last output, forgetting to
concatenate, the convolution before BN-ReLU, a bottleneck of the wrong width, the 3x3 before the
1x1, biases) get messages of their own.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..analysis.shapes import num_params
from ..models.densenet import DenseBlock as _DenseBlock
from ..models.densenet import _DenseBlock as _Block
from ..models.densenet import _DenseLayer, conv_block
from ._forbid import forbids
from ._util import call, expect, randomize
from .hints import see

__all__ = ["check_bottleneck_layer", "check_dense_block"]


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


_LIBRARY = (_DenseBlock, _Block, _DenseLayer, conv_block, "torchvision.models.densenet._DenseBlock",
            "torchvision.models.densenet._DenseLayer")


def _run(net: nn.Module, X: torch.Tensor, name: str, what: str, hint: str) -> torch.Tensor:
    try:
        with torch.no_grad():
            return call(net, name, X)
    except (RuntimeError, ValueError) as e:
        raise AssertionError(f"{what} fails on a batch of shape {tuple(X.shape)} ({e}): {hint}") from e


# (num_convs, in_channels, growth_rate, height)
_DENSE_CASES = [(2, 3, 10, 8), (4, 16, 8, 5), (3, 8, 8, 6)]


@forbids(*_LIBRARY, instead="build it from nn.BatchNorm2d, nn.ReLU and nn.Conv2d layers, and join with torch.cat")
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
                 "and its output is joined to its input with torch.cat((X, Y), dim=1) -- not added"
                 + see("check_dense_block", 2))
        assert isinstance(Y, torch.Tensor) and Y.dim() == 4, (
            f"{what} should return a tensor [batch, channels, height, width], got {type(Y).__name__}")
        if Y.shape[1] != want_channels:
            if Y.shape[1] == growth_rate:
                why = ("only the last unit's growth_rate channels come out: the block keeps everything "
                       "it has seen, X = torch.cat((X, Y), dim=1) after every unit (adding or replacing X "
                       "loses the earlier features)") + see("check_dense_block", 3)
            elif Y.shape[1] == in_channels + growth_rate:
                why = ("only one unit's output was concatenated to the input: concatenate after every "
                       "unit, so each one sees all earlier outputs") + see("check_dense_block", 3)
            else:
                why = ("each of the num_convs units adds growth_rate channels to the input's"
                       + see("check_dense_block", 2))
            raise AssertionError(f"{what} outputs {Y.shape[1]} channels, expected in_channels + num_convs "
                                 f"* growth_rate = {want_channels}: {why}")
        assert tuple(Y.shape) == (2, want_channels, size, size), (
            f"{what} turns {tuple(X.shape)} into {tuple(Y.shape)}, expected {(2, want_channels, size, size)}: "
            "a dense block keeps the height and width (3x3 convolutions with padding=1, no pooling)"
            + see("check_dense_block", 1))

        if not torch.allclose(Y[:, :in_channels], X):
            if torch.allclose(Y[:, -in_channels:], X):
                raise AssertionError(f"{what}: the new channels come before the old ones; put the input "
                                     "first, torch.cat((X, Y), dim=1), as the book does" + see("check_dense_block", 3))
            raise AssertionError(f"{what}: the first {in_channels} output channels should be the input "
                                 "itself, unchanged: a dense block only appends new channels to it"
                                 + see("check_dense_block", 3))

        ref = randomize(_DenseBlock(num_convs, in_channels, growth_rate))
        bn_sizes = [m.num_features for m in _layers(block, nn.BatchNorm2d)]
        want_bn = [in_channels + i * growth_rate for i in range(num_convs)]
        if bn_sizes == [growth_rate] * num_convs:
            raise AssertionError(
                f"{what}: your BatchNorm2d layers normalise the convolutions' outputs ({growth_rate} "
                f"channels each). DenseNet puts BN and ReLU before the convolution: each unit is "
                "BatchNorm2d(in), ReLU, Conv2d(in, growth_rate, 3, padding=1)" + see("check_dense_block", 1))
        assert bn_sizes == want_bn, (
            f"{what} has BatchNorm2d layers over {bn_sizes} channels, expected one per unit over "
            f"{want_bn}: unit i normalises its whole input, in_channels + i * growth_rate channels"
            + see("check_dense_block", 2))
        n_mine, n_ref = num_params(block), num_params(ref)
        assert n_mine == n_ref, (
            f"{what} has {n_mine:,} parameters; the package's has {n_ref:,}. Each unit is "
            "BatchNorm2d(in), ReLU, Conv2d(in, growth_rate, kernel_size=3, padding=1) with a bias"
            + see("check_dense_block", 1))

        if _computes_like(block, ref, X, "DenseBlock.forward"):
            continue
        raise AssertionError(
            f"{what}, with the package block's weights copied in, computes a different function. Each "
            "unit is BN, ReLU, 3x3 conv on everything so far, and X = torch.cat((X, Y), dim=1) after it"
            + see("check_dense_block", 1))


# ----------------------------------------------------------------------------------------------
# DenseNet-BC's bottleneck layer
# ----------------------------------------------------------------------------------------------
class _Appended(nn.Module):
    """The package's (torchvision's) dense layer, with its new channels appended to its input."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return torch.cat((X, self.layer(X)), dim=1)


# (in_channels, growth_rate, bn_size or None for the default 4, height)
_BOTTLENECK_CASES = [(6, 4, None, 6), (10, 3, None, 5), (8, 5, 2, 4)]


@forbids(*_LIBRARY, instead="build it from nn.BatchNorm2d, nn.ReLU and nn.Conv2d layers, and join with torch.cat")
def check_bottleneck_layer(BottleneckLayer: Callable[..., nn.Module]) -> None:
    """Chapter 5: DenseNet-BC's ``BottleneckLayer(in_channels, growth_rate, bn_size=4)``."""
    expect(BottleneckLayer, "check_bottleneck_layer", "BottleneckLayer(in_channels, growth_rate, bn_size=4)",
           "class")
    for in_channels, growth_rate, bn_size, size in _BOTTLENECK_CASES:
        kwargs = {} if bn_size is None else {"bn_size": bn_size}
        bn = 4 if bn_size is None else bn_size
        what = f"BottleneckLayer({in_channels}, {growth_rate}" + (f", bn_size={bn_size})" if kwargs else ")")
        layer = call(BottleneckLayer, "BottleneckLayer", in_channels, growth_rate, **kwargs)
        assert isinstance(layer, nn.Module), (
            f"{what} returned a {type(layer).__name__}; make BottleneckLayer a subclass of nn.Module")
        X = torch.randn(2, in_channels, size, size, generator=torch.Generator().manual_seed(3))
        layer.eval()
        try:
            with torch.no_grad():
                Y = call(layer, "BottleneckLayer.forward", X.clone())
        except (RuntimeError, ValueError) as e:
            if "except in dimension 1" in str(e):
                hint = ("the new channels have another height and width than the input, so they cannot be "
                        "concatenated to it: the 3x3 convolution needs padding=1") + see("check_bottleneck_layer", 2)
            elif "size of tensor a" in str(e):
                hint = ("the new channels are added to the input, and the two have different widths: "
                        "a dense layer concatenates them along the channel dimension instead"
                        + see("check_bottleneck_layer", 3))
            else:
                hint = ("the 1x1 convolution takes the layer's input channels, the 3x3 one takes the 1x1's "
                        "output, and the new channels are joined to the input along dim=1, not added to it"
                        + see("check_bottleneck_layer", 2))
            raise AssertionError(f"{what} fails on a batch of shape {tuple(X.shape)} ({e}): {hint}") from e
        assert isinstance(Y, torch.Tensor) and Y.dim() == 4, (
            f"{what} should return a tensor [batch, channels, height, width], got {type(Y).__name__}")
        want = in_channels + growth_rate
        if Y.shape[1] != want:
            if Y.shape[1] == growth_rate:
                why = ("only the new channels come out. A layer of a dense block hands on everything it "
                       "was given: concatenate its input and its new channels along dim=1 (torchvision's "
                       "_DenseLayer leaves that to its block; here the layer does it)"
                       + see("check_bottleneck_layer", 3))
            elif Y.shape[1] == in_channels:
                why = ("as many channels as came in: adding the new features to the input, or returning the "
                       "input, loses the dense connectivity. Concatenate instead") + see("check_bottleneck_layer", 3)
            elif Y.shape[1] == in_channels + bn * growth_rate:
                why = ("the bottleneck's output was appended: the 3x3 convolution after it makes the "
                       "layer's growth_rate new channels, and those are what is appended") + see(
                    "check_bottleneck_layer", 2)
            else:
                why = "the layer appends growth_rate new channels to its input" + see("check_bottleneck_layer", 2)
            raise AssertionError(f"{what} outputs {Y.shape[1]} channels, expected in_channels + growth_rate "
                                 f"= {want}: {why}")
        assert tuple(Y.shape[2:]) == (size, size), (
            f"{what} turns {tuple(X.shape)} into {tuple(Y.shape)}: the layer keeps the height and width "
            "(the 3x3 convolution needs padding=1)" + see("check_bottleneck_layer", 2))
        if not torch.allclose(Y[:, :in_channels], X):
            if torch.allclose(Y[:, -in_channels:], X):
                raise AssertionError(f"{what}: the new channels come before the old ones; put the input first, "
                                     "as the package's and torchvision's blocks do" + see("check_bottleneck_layer", 3))
            raise AssertionError(f"{what}: the first {in_channels} output channels should be the input itself, "
                                 "unchanged (an in-place ReLU applied to the input itself changes it)"
                                 + see("check_bottleneck_layer", 3))

        convs = _layers(layer, nn.Conv2d)
        kernels = [c.kernel_size[0] for c in convs]
        if len(convs) == 1:
            raise AssertionError(f"{what} has one convolution: DenseNet-BC puts a 1x1 convolution, the "
                                 "bottleneck, in front of the 3x3 one" + see("check_bottleneck_layer", 2))
        assert len(convs) == 2, (f"{what} has {len(convs)} convolutions; a bottleneck layer has two, a 1x1 and a 3x3"
                                 + see("check_bottleneck_layer", 1))
        if kernels == [3, 1]:
            raise AssertionError(f"{what}: the 3x3 convolution comes first. The 1x1 one goes first: it maps "
                                 "the wide input to a narrow bottleneck, so that the costly 3x3 sees few channels"
                                 + see("check_bottleneck_layer", 2))
        assert kernels == [1, 3], (f"{what} has convolutions with kernels {kernels}; expected a 1x1 and then a 3x3"
                                   + see("check_bottleneck_layer", 2))
        width = convs[0].out_channels
        if width != bn * growth_rate:
            if width == 4 * growth_rate:
                why = "bn_size sets how many times growth_rate the bottleneck is wide; do not fix it at 4"
            elif width == growth_rate:
                why = ("the bottleneck is bn_size times wider than the layer's growth_rate new channels; "
                       "here it is only growth_rate wide")
            else:
                why = "its width is bn_size * growth_rate, whatever the input's width"
            raise AssertionError(f"{what}: the 1x1 convolution outputs {width} channels: {why}"
                                 + see("check_bottleneck_layer", 2))
        bn_sizes = [m.num_features for m in _layers(layer, nn.BatchNorm2d)]
        if bn_sizes in ([bn * growth_rate, growth_rate], [growth_rate, bn * growth_rate]) or \
                bn_sizes[-1:] == [growth_rate]:
            raise AssertionError(
                f"{what}: a BatchNorm2d normalises a convolution's output. DenseNet puts BN and ReLU "
                "before each convolution (pre-activation), so its first BN normalises the layer's input"
                + see("check_bottleneck_layer", 1))
        assert bn_sizes == [in_channels, bn * growth_rate], (
            f"{what} has BatchNorm2d layers over {bn_sizes} channels: there is one BN-ReLU in front of each "
            "of the two convolutions, over the channels that convolution takes" + see("check_bottleneck_layer", 1))
        ref = randomize(_DenseLayer(in_channels, growth_rate, bn_size=bn))
        if any(c.bias is not None for c in convs):
            raise AssertionError(
                f"{what}: your convolutions have biases. DenseNet-BC's (torchvision's) have none, bias=False: "
                "the 1x1's output goes straight into a BN, which shifts it anyway, and the 3x3's new channels "
                "are normalised by the next layer's BN" + see("check_bottleneck_layer", 2))
        n_mine, n_ref = num_params(layer), num_params(ref)
        assert n_mine == n_ref, (
            f"{what} has {n_mine:,} parameters; torchvision's dense layer has {n_ref:,}: two BN-ReLU-conv "
            "stages and nothing else" + see("check_bottleneck_layer", 1))
        if _computes_like(layer, _Appended(ref), X, "BottleneckLayer.forward"):
            continue
        raise AssertionError(
            f"{what}, with torchvision's weights copied in, computes a different function: BN, ReLU, 1x1 "
            "convolution, BN, ReLU, 3x3 convolution, each ReLU after its BN, and the input first in the output"
            + see("check_bottleneck_layer", 1))
